"""Image-text contrastive losses: I2T over the batch's dialogues (eq. 3), T2I over the sample's candidates (eq. 4)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def i2t_loss(
    positive_image: torch.Tensor, text: torch.Tensor, temperature: torch.Tensor | float, offset: int = 0
) -> torch.Tensor:
    """Eq. 3: each ground-truth sticker against all K dialogues of the batch.

    positive_image: (K', C) normalised embeddings of the ground-truth stickers
    text:           (K, C) normalised dialogue embeddings of the whole batch (K' = K in one process;
                    under torchrun each rank's K' stickers match rows offset..offset+K' of the gathered text)
    """
    logits = positive_image @ text.t() / temperature  # (K', K)
    labels = torch.arange(len(positive_image), device=text.device) + offset
    return F.cross_entropy(logits, labels)


def t2i_loss(
    text: torch.Tensor, candidates: torch.Tensor, positive: torch.Tensor, temperature: torch.Tensor | float
) -> torch.Tensor:
    """Eq. 4: each dialogue against its own candidate set.

    text:       (K, C) normalised dialogue embeddings
    candidates: (K, N_S, C) normalised embeddings of each sample's candidates
    positive:   (K,) index of the ground truth within each candidate set
    """
    logits = torch.einsum("kc,knc->kn", text, candidates) / temperature  # (K, N_S)
    return F.cross_entropy(logits, positive)
