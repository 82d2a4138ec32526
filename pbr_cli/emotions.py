"""The emotion vocabulary every part of pbr shares: the seven emotions, their order and their polarity."""

from __future__ import annotations

from typing import Any

# SER30K class order; every emotion index in pbr (labels, probability columns, anchor blocks) refers to this tuple.
EMOTIONS: tuple[str, ...] = ("surprise", "happiness", "disgust", "fear", "sadness", "anger", "neutral")
POSITIVE_EMOTIONS: tuple[int, ...] = (0, 1)  # surprise, happiness (Algorithm 1)
NEGATIVE_EMOTIONS: tuple[int, ...] = (2, 3, 4, 5)  # disgust, fear, sadness, anger; neutral is left out
POSITIVE_NAMES: tuple[str, ...] = tuple(EMOTIONS[i] for i in POSITIVE_EMOTIONS)
NEGATIVE_NAMES: tuple[str, ...] = tuple(EMOTIONS[i] for i in NEGATIVE_EMOTIONS)


def emotion_index(name: str) -> int:
    return EMOTIONS.index(name)


def fold_emotions(anchor_scores: Any, m: int) -> Any:
    """(N, 7*M) per-anchor values, emotion-major -> (N, 7): the mean over each emotion's M anchors (numpy or torch).

    Algorithm 1, line 4: "EMO ← Mean(EMO), EMO ∈ R^{K×7}" — the sticker's 7·M anchor scores folded into
    one score per emotion before its positive and negative emotions are summed into P^I and N^I.
    """
    if anchor_scores.shape[-1] % m:
        raise ValueError(f"last dimension {anchor_scores.shape[-1]} is not a multiple of M={m}")
    return anchor_scores.reshape(*anchor_scores.shape[:-1], -1, m).mean(-1)
