"""Ranking metrics on arrays: MAP, MRR and R_n@k, with tied scores counted by their expectation."""

from __future__ import annotations

import os

import numpy as np

from .errors import DataError, FormatError


class NonFiniteScores(DataError):
    """Some rows hold a NaN or infinite score, so no rank (and no metric) can be computed for them."""

    def __init__(self, rows: int, total: int, path: str | os.PathLike | None = None):
        self.rows, self.total = rows, total
        super().__init__(f"scores are NaN or infinite in {rows} of {total} row(s); no rank can be computed", path)

    def of_model(self, score: str, what: str, weights: str | os.PathLike) -> FormatError:
        """The error to report when a model whose weights file is finite produced these scores."""
        return FormatError(
            f"the model's {score} scores are NaN or infinite for {self.rows} of {self.total} {what}, "
            "although its weights are finite (they overflow in the forward pass)",
            weights,
        )


def require_finite(scores: np.ndarray) -> None:
    """NonFiniteScores when any row of the (N, n) scores (an (N,) array: any value) is NaN or infinite."""
    scores = np.asarray(scores)
    if not scores.size:
        return
    rows = int((~np.isfinite(scores)).reshape(len(scores), -1).any(axis=1).sum())
    if rows:
        raise NonFiniteScores(rows, len(scores))


def truth_positions(scores: np.ndarray, label: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each row: how many candidates score strictly higher than the truth, and how many tie with it.

    NaN or infinite scores are refused (NonFiniteScores): they would compare as neither higher nor tied.
    """
    scores = np.asarray(scores, dtype=np.float64)
    require_finite(scores)
    truth = scores[np.arange(len(scores)), label][:, None]
    higher = (scores > truth).sum(1)
    tied = (scores == truth).sum(1) - 1
    return higher, tied


def _check_shapes(scores: np.ndarray, label: np.ndarray) -> None:
    if scores.ndim != 2 or len(scores) != len(label):
        raise ValueError(f"scores must be (N, n) and label (N,), got {scores.shape} and {label.shape}")


def per_row_metrics(scores: np.ndarray, label: np.ndarray, ks: tuple[int, ...] = (1,)) -> dict[str, np.ndarray]:
    """Each row's average precision ("ap", its reciprocal rank) and hit at k ("r{n}@{k}") as (N,) arrays.

    Ties count by their expectation over all orderings of the tied candidates: with t other candidates tied
    with the truth, its rank is uniform over higher+1 .. higher+t+1. `rank_metrics` is the mean of these arrays.
    """
    scores = np.asarray(scores)
    label = np.asarray(label, dtype=np.int64)
    _check_shapes(scores, label)
    n = scores.shape[1]
    higher, tied = truth_positions(scores, label)
    max_tie = int(tied.max()) + 1 if len(tied) else 1
    offsets = np.arange(max_tie)[None, :]  # (1, T)
    valid = offsets <= tied[:, None]  # (N, T)
    ranks = higher[:, None] + 1 + offsets  # (N, T)
    result = {"ap": np.where(valid, 1.0 / ranks, 0.0).sum(1) / (tied + 1)}
    for k in ks:
        if k <= n:
            result[f"r{n}@{k}"] = np.clip((k - higher) / (tied + 1), 0.0, 1.0)
    return result


def rank_metrics(scores: np.ndarray, label: np.ndarray, ks: tuple[int, ...] = (1, 2, 5)) -> dict[str, float]:
    """MAP, MRR and R_n@k as fractions: the means of `per_row_metrics`, ties counted by their expectation.

    With one relevant candidate per row, average precision equals the reciprocal rank, so MAP == MRR.
    A scorer that gives every candidate the same score gets R_n@1 = 1/n and MAP = mean(1/1 .. 1/n).
    """
    scores = np.asarray(scores)
    label = np.asarray(label, dtype=np.int64)
    _check_shapes(scores, label)
    if len(scores) == 0:
        raise ValueError("no rows to score")
    rows = per_row_metrics(scores, label, ks)
    reciprocal = rows.pop("ap")
    result = {"map": float(reciprocal.mean()), "mrr": float(reciprocal.mean())}
    result.update({name: float(values.mean()) for name, values in rows.items()})
    result["n"] = int(len(scores))
    result["candidates"] = int(scores.shape[1])
    return result
