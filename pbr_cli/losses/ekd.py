"""Emotion Knowledge Distillation (§3.2, eq. 6) and the Table 5 variants (logit and feature distillation).

The anchors target softmax(V^e · E / tau) is `anchors.pseudo_labels`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def kl_distillation_loss(student_logits: torch.Tensor, target_probs: torch.Tensor) -> torch.Tensor:
    """Eq. 6: KL(target || softmax(student)) with batch-mean reduction (the `anchors` and `logits` modes).

    student_logits: (B, D) outputs of the head W^E on v_cls; target_probs: (B, D) rows summing to 1.
    """
    return F.kl_div(F.log_softmax(student_logits.float(), dim=-1), target_probs.float(), reduction="batchmean")


def feature_distillation_loss(student_features: torch.Tensor, teacher_features: torch.Tensor) -> torch.Tensor:
    """Table 5 'feature distillation': v_cls projected to C_S regresses the teacher feature (mean squared error)."""
    return F.mse_loss(student_features.float(), teacher_features.float())
