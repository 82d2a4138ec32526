"""Polarity-based Hard Sample Mining (§3.4, Algorithm 1): sentiment similarity added to semantic similarity."""

from __future__ import annotations

import torch

from ..emotions import NEGATIVE_EMOTIONS, POSITIVE_EMOTIONS


def sticker_polarity(emotion_scores: torch.Tensor) -> torch.Tensor:
    """Algorithm 1 lines 3–11: (B, 7) per-emotion scores -> (B, 2) [P^I, N^I] = softmax([sum pos, sum neg]).

    Positive: surprise, happiness; negative: disgust, fear, sadness, anger; neutral is left out.
    """
    scores = emotion_scores.float()
    positive = scores[:, list(POSITIVE_EMOTIONS)].sum(-1)
    negative = scores[:, list(NEGATIVE_EMOTIONS)].sum(-1)
    return torch.softmax(torch.stack([positive, negative], dim=-1), dim=-1)


def polarity_similarity(rows: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
    """SEN = 2 − (|P_i − P_j| + |N_i − N_j|) for (R, 2) and (C, 2) polarities -> (R, C).

    This is the authors' code form of Algorithm 1 lines 14 and 16 (the printed form is constant when
    polarities are normalised).
    """
    difference = (rows.float()[:, None, :] - columns.float()[None, :, :]).abs().sum(-1)
    return 2.0 - difference


def phsm_scores(similarity: torch.Tensor, sentiment: torch.Tensor, weight: float = 1.0) -> torch.Tensor:
    """Line 17: the logits whose softmax gives the sampling distribution, SIM + softmax(SEN) (row-wise)."""
    return similarity.float() + weight * torch.softmax(sentiment.float(), dim=-1)
