"""Image-text matching (SDM, eq. 5) with hard negatives sampled ALBEF-style from softmax(similarity)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def sample_negatives(similarity: torch.Tensor, positive_mask: torch.Tensor,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """One negative column per row, drawn from softmax(similarity) with the positives masked out.

    similarity:    (R, M) scores (higher = harder negative)
    positive_mask: (R, M) bool, True where a column must never be drawn for that row
    returns        (R,) column indices; a row with no allowed column is impossible by construction
    """
    similarity = similarity.detach().float()
    logits = similarity.masked_fill(positive_mask, float("-inf"))
    weights = torch.softmax(logits, dim=1)
    weights = torch.nan_to_num(weights, nan=0.0)
    # a row whose allowed columns all underflowed gets a uniform draw over them
    empty = weights.sum(1) <= 0
    if empty.any():
        weights[empty] = (~positive_mask[empty]).float()
    return torch.multinomial(weights, 1, generator=generator).squeeze(1)


def itm_loss(positive_logits: torch.Tensor, negative_logits: torch.Tensor) -> torch.Tensor:
    """Eq. 5 as binary cross-entropy over 2-way logits: positives labelled 1, negatives 0, mean over all pairs.

    positive_logits: (K, 2); negative_logits: (R, 2) (ALBEF/PBR: R = 2K, a negative sticker per dialogue and a
    negative dialogue per sticker)
    """
    logits = torch.cat([positive_logits, negative_logits])
    labels = torch.cat([torch.ones(len(positive_logits), dtype=torch.long, device=logits.device),
                        torch.zeros(len(negative_logits), dtype=torch.long, device=logits.device)])
    return F.cross_entropy(logits.float(), labels)
