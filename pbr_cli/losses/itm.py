"""Image-text matching (SDM, eq. 5) with hard negatives sampled ALBEF-style from softmax(similarity)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def sample_negatives(
    similarity: torch.Tensor, positive_mask: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """One negative column per row, drawn from softmax(similarity) with the positives masked out.

    similarity:    (R, M) scores (higher = harder negative)
    positive_mask: (R, M) bool, True where a column must never be drawn for that row
    returns        (R,) column indices. A row whose allowed columns all underflow draws uniformly among
                   them; a row with no allowed column at all gets column 0 (callers weight such rows out,
                   see `has_negative`). No host synchronisation.
    """
    similarity = similarity.detach().float()
    logits = similarity.masked_fill(positive_mask, float("-inf"))
    weights = torch.nan_to_num(torch.softmax(logits, dim=1), nan=0.0)
    allowed = (~positive_mask).float()
    fallback = torch.where(allowed.sum(1, keepdim=True) > 0, allowed, torch.ones_like(allowed))
    weights = torch.where(weights.sum(1, keepdim=True) > 0, weights, fallback)
    return torch.multinomial(weights, 1, generator=generator).squeeze(1)


def sample_negative_sets(
    similarity: torch.Tensor, positive_mask: torch.Tensor, count: int, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """`count` distinct negative columns per row, drawn without replacement from softmax(similarity).

    Gumbel top-k: adding Gumbel noise to the logits and keeping the `count` largest draws the columns one by one
    from the softmax renormalised over those not yet drawn, with no underflow and no host synchronisation.
    Returns (R, count) column indices and (R, count) bool, False where a row ran out of allowed columns (the
    index is then a masked column: callers weight those pairs out).
    """
    logits = similarity.detach().float().masked_fill(positive_mask, float("-inf"))
    count = min(count, logits.shape[1])
    uniform = torch.rand(logits.shape, generator=generator, device=logits.device, dtype=logits.dtype)
    gumbel = -torch.log(-torch.log(uniform.clamp(1e-20, 1 - 1e-7)))  # finite: masked columns stay at -inf
    picks = (logits + gumbel).topk(count, dim=1).indices
    return picks, ~positive_mask.gather(1, picks)


def has_negative(positive_mask: torch.Tensor) -> torch.Tensor:
    """(R,) bool: rows that have at least one column allowed as a negative."""
    return (~positive_mask).any(1)


def list_loss(
    positive_logits: torch.Tensor, negative_logits: torch.Tensor, negative_valid: torch.Tensor
) -> torch.Tensor:
    """Listwise matching loss: each dialogue's positive against its own negatives, by the match margin.

    positive_logits: (K, 2); negative_logits: (K, m, 2); negative_valid: (K, m) bool (False pairs left out).
    The score of a pair is its match-minus-no-match logit (what ranking sorts by); the loss is the cross-entropy
    of the positive among the K lists, as ranking a candidate set asks.
    """
    positive = (positive_logits[:, 1] - positive_logits[:, 0]).float()[:, None]  # (K, 1)
    negative = (negative_logits[..., 1] - negative_logits[..., 0]).float()  # (K, m)
    negative = negative.masked_fill(~negative_valid, float("-inf"))
    scores = torch.cat([positive, negative], dim=1)
    return F.cross_entropy(scores, torch.zeros(len(scores), dtype=torch.long, device=scores.device))


def itm_loss(
    positive_logits: torch.Tensor, negative_logits: torch.Tensor, negative_weight: torch.Tensor | None = None
) -> torch.Tensor:
    """Eq. 5 as binary cross-entropy over 2-way logits: positives labelled 1, negatives 0, mean over all pairs.

    positive_logits: (K, 2); negative_logits: (R, 2) (ALBEF/PBR: R = 2K, a negative sticker per dialogue and a
    negative dialogue per sticker); negative_weight: optional (R,) 0/1, pairs with 0 are left out of the mean
    """
    logits = torch.cat([positive_logits, negative_logits]).float()
    labels = torch.cat(
        [
            torch.ones(len(positive_logits), dtype=torch.long, device=logits.device),
            torch.zeros(len(negative_logits), dtype=torch.long, device=logits.device),
        ]
    )
    if negative_weight is None:
        return F.cross_entropy(logits, labels)
    weight = torch.cat([torch.ones(len(positive_logits), device=logits.device), negative_weight.float()])
    return (F.cross_entropy(logits, labels, reduction="none") * weight).sum() / weight.sum()
