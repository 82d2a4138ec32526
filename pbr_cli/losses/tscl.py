"""Topic-level Semantic Contrastive Learning (§3.3): intra-topic (eq. 7) and inter-topic (eq. 8) InfoNCE."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def info_nce(
    view1: torch.Tensor,
    view2: torch.Tensor,
    temperature: float,
    ids: torch.Tensor | None = None,
    offset: int = 0,
    column_ids: torch.Tensor | None = None,
) -> torch.Tensor:
    """-mean_i log( exp(z1_i·z2_i / t) / sum_j exp(z1_i·z2_j / t) ) over L2-normalised projections.

    view1: (n, d) and view2: (m, d) projections psi(v_aug1), psi(v_aug2); row i of view1 matches row
    offset + i of view2 (m = n, offset = 0 in one process; view2 gathered from every rank under torchrun).
    ids / column_ids: optional sticker ids of the rows / columns; another copy of the same sticker is
    not used as a negative.
    """
    z1 = F.normalize(view1.float(), dim=-1)
    z2 = F.normalize(view2.float(), dim=-1)
    logits = z1 @ z2.t() / temperature  # (n, m)
    labels = torch.arange(len(z1), device=z1.device) + offset
    if ids is not None:
        columns = ids if column_ids is None else column_ids
        duplicate = ids[:, None] == columns[None, :]
        duplicate[torch.arange(len(z1), device=z1.device), labels] = False
        logits = logits.masked_fill(duplicate, float("-inf"))
    return F.cross_entropy(logits, labels)


def intra_topic_loss(
    view1: torch.Tensor, view2: torch.Tensor, temperature: float = 0.1, ids: torch.Tensor | None = None
) -> torch.Tensor:
    """Eq. 7 for each sample's candidate set (negatives from the same topic), averaged over the K samples.

    view1, view2: (K, N_S, d); ids: optional (K, N_S).
    """
    losses = [info_nce(view1[k], view2[k], temperature, None if ids is None else ids[k]) for k in range(len(view1))]
    return torch.stack(losses).mean()


def inter_topic_loss(
    view1: torch.Tensor, view2: torch.Tensor, temperature: float = 0.1, ids: torch.Tensor | None = None
) -> torch.Tensor:
    """Eq. 8 across all K·N_S candidates of the batch (negatives from other topics too).

    view1, view2: (K·N_S, d); ids: optional (K·N_S,). Under torchrun the second views and ids are
    gathered from every rank (with gradients), so the negatives span the whole global batch.
    """
    from ..runtime import gather_with_grad, world

    rank, _ = world()
    all_view2 = gather_with_grad(view2)
    if all_view2 is view2:
        return info_nce(view1, view2, temperature, ids)
    column_ids = None if ids is None else gather_with_grad(ids)
    return info_nce(view1, all_view2, temperature, ids, offset=rank * len(view1), column_ids=column_ids)
