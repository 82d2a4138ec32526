"""Emotion Knowledge Distillation (§3.2, eq. 6) and the Table 5 variants (logit and feature distillation)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def anchor_targets(teacher_features: torch.Tensor, anchors: torch.Tensor, tau: float = 1.0) -> torch.Tensor:
    """Emotion pseudo-labels softmax(V^e · E / tau): (B, C_S) features, (7M, C_S) anchors -> (B, 7M)."""
    return torch.softmax(teacher_features.float() @ anchors.float().t() / tau, dim=-1)


def kl_distillation_loss(student_logits: torch.Tensor, target_probs: torch.Tensor) -> torch.Tensor:
    """Eq. 6: KL(target || softmax(student)) with batch-mean reduction (the `anchors` and `logits` modes).

    student_logits: (B, D) outputs of the head W^E on v_cls; target_probs: (B, D) rows summing to 1.
    """
    return F.kl_div(F.log_softmax(student_logits.float(), dim=-1), target_probs.float(), reduction="batchmean")


def feature_distillation_loss(student_features: torch.Tensor, teacher_features: torch.Tensor) -> torch.Tensor:
    """Table 5 'feature distillation': v_cls projected to C_S regresses the teacher feature (mean squared error)."""
    return F.mse_loss(student_features.float(), teacher_features.float())


def fold_emotions(anchor_scores: torch.Tensor, m: int) -> torch.Tensor:
    """(B, 7M) scores over emotion-major anchors -> (B, 7) mean over each emotion's M anchors."""
    return anchor_scores.view(*anchor_scores.shape[:-1], -1, m).mean(-1)
