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


def has_negative(positive_mask: torch.Tensor) -> torch.Tensor:
    """(R,) bool: rows that have at least one column allowed as a negative."""
    return (~positive_mask).any(1)


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
