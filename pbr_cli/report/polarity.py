"""Sticker sentiment polarity, 0 negative .. 1 positive: from emotion labels, else a teacher's emotion probabilities."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np

from ..emotions import EMOTIONS, NEGATIVE_NAMES, POSITIVE_NAMES
from ..errors import DataError, FormatError

if TYPE_CHECKING:
    from ..features import H5Data

NEUTRAL_POLARITY = 0.5
NEUTRAL_BAND = 0.1  # polarity within 0.5 +- this counts as neutral when stickers are sorted into classes

FROM_EMOTIONS = "emotion labels"
FROM_TEACHER = "teacher probabilities"


def emotion_polarity(emotion: str | None) -> float:
    """1 for a positive emotion, 0 for a negative one, 0.5 for neutral, NaN when the emotion is unknown."""
    if emotion is None:
        return float("nan")
    name = emotion.lower()
    if name in POSITIVE_NAMES:
        return 1.0
    if name in NEGATIVE_NAMES:
        return 0.0
    return NEUTRAL_POLARITY if name == "neutral" else float("nan")


def fold_probs(probs: np.ndarray, class_names: Sequence[str]) -> np.ndarray:
    """(N,) polarity P / (P + N) from (N, C) emotion probabilities; P, N = summed positive, negative probs.

    Neutral's probability counts for neither side (Algorithm 1); 0.5 where P + N is 0.
    """
    probs = np.asarray(probs, dtype=np.float64)
    names = [name.lower() for name in class_names]
    positive = probs[:, [i for i, name in enumerate(names) if name in POSITIVE_NAMES]].sum(1)
    negative = probs[:, [i for i, name in enumerate(names) if name in NEGATIVE_NAMES]].sum(1)
    total = positive + negative
    return np.where(total > 0, positive / np.where(total > 0, total, 1.0), NEUTRAL_POLARITY)


def read_teacher_probs(path: str | os.PathLike) -> H5Data:
    """A teacher-features file whose `probs` columns name positive and negative emotions (FormatError if not)."""
    from ..features import read_h5

    data = read_h5(path, "teacher_features")
    class_names = data.attrs.get("class_names")
    if isinstance(class_names, str):
        class_names = [class_names]
    if not class_names or len(class_names) != data["probs"].shape[1]:
        raise FormatError(
            f"attribute class_names does not name the {data['probs'].shape[1]} probability columns", data.path
        )
    names = {str(name).lower() for name in class_names}
    if not names & set(POSITIVE_NAMES) or not names & set(NEGATIVE_NAMES):
        raise FormatError(
            f"class_names {list(class_names)} hold no positive or no negative emotion; "
            f"expected names from {', '.join(EMOTIONS)}",
            data.path,
        )
    return data


@dataclass
class StickerPolarity:
    """Polarity of some stickers (NaN where unknown) and where it came from."""

    values: np.ndarray  # (N,) float64 in 0..1, NaN unknown
    source: str  # "emotion labels", "teacher probabilities", both joined by " + ", or "" when none is known

    @property
    def known(self) -> np.ndarray:  # (N,) bool
        return np.isfinite(self.values)


def sticker_polarity(
    ids: Sequence[str], emotions: Sequence[str | None], teacher: H5Data | None = None
) -> StickerPolarity:
    """Each sticker's polarity from its emotion label; stickers without one take the teacher's folded `probs`.

    With a teacher file, every sticker without an emotion label must be in it (DataError naming the file).
    """
    values = np.array([emotion_polarity(emotion) for emotion in emotions], dtype=np.float64)
    sources = [FROM_EMOTIONS] if np.isfinite(values).any() else []
    unlabelled = np.flatnonzero(~np.isfinite(values))
    if teacher is not None and len(unlabelled):
        row_of = {str(sticker_id): row for row, sticker_id in enumerate(teacher["ids"])}
        missing = [str(ids[i]) for i in unlabelled if str(ids[i]) not in row_of]
        if missing:
            shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
            raise DataError(f"no emotion probabilities for {len(missing)} sticker(s): {shown}", teacher.path)
        rows = np.array([row_of[str(ids[i])] for i in unlabelled], dtype=np.int64)
        values[unlabelled] = fold_probs(teacher["probs"][rows], teacher.attrs["class_names"])
        sources.append(FROM_TEACHER)
    return StickerPolarity(values, " + ".join(sources))


def polarity_classes(values: np.ndarray) -> np.ndarray:
    """(N,) 'positive', 'negative', 'neutral' or 'unknown' for polarity values (neutral: within 0.5 +- band)."""
    values = np.asarray(values, dtype=np.float64)
    classes = np.full(values.shape, "unknown", dtype=object)
    known = np.isfinite(values)
    classes[known & (values > NEUTRAL_POLARITY + NEUTRAL_BAND)] = "positive"
    classes[known & (values < NEUTRAL_POLARITY - NEUTRAL_BAND)] = "negative"
    classes[known & (np.abs(values - NEUTRAL_POLARITY) <= NEUTRAL_BAND)] = "neutral"
    return classes
