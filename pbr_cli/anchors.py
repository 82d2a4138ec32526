"""Emotion anchors (paper §3.2): per-emotion K-Means of teacher features, and pseudo-labels softmax(V^e E / tau)."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from .emotions import EMOTIONS, fold_emotions
from .errors import ConfigError, DataError

SMALL_CLASS_POLICIES: tuple[str, ...] = ("error", "shrink")


@dataclass
class EmotionAnchors:
    """The anchor matrix E^T, emotion-major: rows [c*M, (c+1)*M) are emotion c's centroids."""

    anchors: np.ndarray  # (7*M, C_S) float32
    emotion: np.ndarray  # (7*M,) int64 emotion index of each row
    M: int  # anchors per emotion
    images_per_emotion: list[int]  # images clustered for each emotion
    clusters_per_emotion: list[int]  # distinct centroids per emotion (< M where a class was shrunk or repeats images)
    class_names: tuple[str, ...] = EMOTIONS

    @property
    def shrunk(self) -> dict[str, int]:
        """Emotions with fewer than M distinct centroids: name -> distinct count."""
        return {name: count for name, count in zip(self.class_names, self.clusters_per_emotion) if count < self.M}


def build_anchors(
    features: np.ndarray,
    labels: np.ndarray,
    M: int = 60,
    on_small_class: str = "error",
    seed: int = 0,
    class_names: Sequence[str] = EMOTIONS,
    source: str | os.PathLike | None = None,
) -> EmotionAnchors:
    """K-Means (k = M, one k-means++ start, float32) on each emotion's features; centroids stacked emotion-major.

    features (N, C_S), labels (N,) with values in 0..6 (rows with label < 0 are ignored). An emotion
    with fewer than M images is a DataError (naming it and its count) unless `on_small_class="shrink"`:
    then it gets one centroid per image, repeated cyclically up to M rows so E keeps its (7*M, C_S)
    shape and every emotion its M head outputs; `clusters_per_emotion` records the distinct count.
    An emotion with no image at all, or a NaN or infinite feature, is always an error. `source` names the data
    in error messages.
    """
    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits

    if on_small_class not in SMALL_CLASS_POLICIES:
        raise ConfigError(f"on_small_class must be one of {', '.join(SMALL_CLASS_POLICIES)}, got '{on_small_class}'")
    if M < 1:
        raise ConfigError(f"M must be at least 1, got {M}")
    features = np.asarray(features, dtype=np.float32)
    labels = np.asarray(labels, dtype=np.int64)
    if features.ndim != 2 or labels.shape != (len(features),):
        raise ValueError(f"expected features (N, C) and labels (N,), got {features.shape} and {labels.shape}")
    bad = ~np.isfinite(features).all(axis=1)
    if bad.any():
        raise DataError(
            f"teacher features are NaN or infinite in {int(bad.sum())} of {len(features)} image(s) "
            f"(first: row {int(np.argmax(bad))}); K-Means cannot cluster them",
            source,
        )
    counts = [int((labels == index).sum()) for index in range(len(class_names))]
    for name, count in zip(class_names, counts):
        if count == 0:
            raise DataError(f"emotion '{name}' has no labelled image; anchors need every emotion", source)
        if count < M and on_small_class == "error":
            raise DataError(
                f"emotion '{name}' has {count} image(s), fewer than M={M} clusters; "
                "lower --M or pass --on-small-class shrink",
                source,
            )

    blocks: list[np.ndarray] = []
    distinct: list[int] = []
    for index, count in enumerate(counts):
        members = features[labels == index]  # (n_c, C_S)
        k = min(M, count)
        # k-means++ seeding is a chain of thin (n, C_S) x (C_S, few) products that multi-threaded BLAS runs
        # several times slower than one thread on a busy machine; Lloyd's iterations use their own OpenMP threads.
        with warnings.catch_warnings(), threadpool_limits(limits=1, user_api="blas"):
            warnings.simplefilter("ignore", ConvergenceWarning)  # duplicate images: fewer distinct points than k
            kmeans = KMeans(n_clusters=k, n_init=1, random_state=seed + index).fit(members)
        centroids = kmeans.cluster_centers_.astype(np.float32)  # (k, C_S)
        blocks.append(centroids[np.arange(M) % k])  # (M, C_S)
        distinct.append(len(np.unique(centroids, axis=0)))  # repeated images give repeated centroids
    return EmotionAnchors(
        anchors=np.concatenate(blocks),
        emotion=np.repeat(np.arange(len(class_names), dtype=np.int64), M),
        M=M,
        images_per_emotion=counts,
        clusters_per_emotion=distinct,
        class_names=tuple(class_names),
    )


def write_anchors(
    path: str | os.PathLike, anchors: EmotionAnchors, teacher_hash: str, attrs: Mapping[str, Any] | None = None
) -> Path:
    """Write an `anchors` .h5 (anchors, emotion; teacher_hash, dim, M, class_names and the per-emotion counts)."""
    from .features import write_h5

    return write_h5(
        path,
        "anchors",
        {"anchors": anchors.anchors, "emotion": anchors.emotion},
        {
            "teacher_hash": teacher_hash,
            "dim": int(anchors.anchors.shape[1]),
            "M": anchors.M,
            "class_names": list(anchors.class_names),
            "images_per_emotion": list(anchors.images_per_emotion),
            "clusters_per_emotion": list(anchors.clusters_per_emotion),
            **(attrs or {}),
        },
    )


def pseudo_label_agreement(
    features: np.ndarray, labels: np.ndarray, anchors: EmotionAnchors, tau: float = 1.0, similarity: str = "dot"
) -> float:
    """Share of the labelled rows (label >= 0) whose pseudo-labels put the most mass on their own emotion.

    An emotion's mass is its M anchors' pseudo-labels folded as PHSM folds them (`fold_emotions`); a
    diagnostic of the EKD target (Eq. 6) that `pbr build-anchors` prints for both similarities. NaN when no
    row is labelled.
    """
    labels = np.asarray(labels)
    keep = labels >= 0
    if not keep.any():
        return float("nan")
    probs = pseudo_labels(np.asarray(features)[keep], anchors.anchors, tau, similarity)
    return float((fold_emotions(probs, anchors.M).argmax(-1) == labels[keep]).mean())


def _is_torch(value: Any) -> bool:
    return type(value).__module__.startswith("torch")


def pseudo_labels(teacher_features: Any, anchors: Any, tau: float = 1.0, similarity: str = "dot") -> Any:
    """softmax(V^e · E / tau) over the 7*M anchors (Eq. 6's target): (N, C_S), (7*M, C_S) -> (N, 7*M).

    Works on numpy arrays and on torch tensors (returned on the features' device and dtype); tau = 1 is
    the paper's behaviour (nearly one-hot with raw 2048-d features), a larger tau softens the target.
    similarity "distance" uses -|v - e|^2 / 2 instead of v · e (the same up to a per-row constant, less
    |e|^2 / 2): the nearest anchor gets the most mass, where the dot product favours long anchors whatever
    their direction (on the demo the teacher's anchors differ in length by emotion, and the emotion with
    the most pseudo-label mass is the sticker's own for 72% of the library by dot, 87% by distance).
    """
    if tau <= 0:
        raise ConfigError(f"the pseudo-label temperature must be positive, got {tau}")
    if similarity not in ("dot", "distance"):
        raise ConfigError(f"the pseudo-label similarity must be dot or distance, got {similarity!r}")
    if _is_torch(teacher_features):
        import torch

        anchors = torch.as_tensor(anchors, dtype=teacher_features.dtype, device=teacher_features.device)
        logits = teacher_features @ anchors.T
        if similarity == "distance":
            logits = logits - 0.5 * (anchors * anchors).sum(-1)
        return torch.softmax(logits / tau, dim=-1)
    anchors = np.asarray(anchors, dtype=np.float64)
    logits = np.asarray(teacher_features, dtype=np.float64) @ anchors.T
    if similarity == "distance":
        logits -= 0.5 * (anchors * anchors).sum(-1)
    logits /= tau
    logits -= logits.max(axis=-1, keepdims=True)
    weights = np.exp(logits)
    return (weights / weights.sum(axis=-1, keepdims=True)).astype(np.float32)
