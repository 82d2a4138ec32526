"""What the demo knows and real data does not: the teacher checked against the library stickers' true emotions."""

from __future__ import annotations

import os

import numpy as np

from ..data.types import StickerDataset
from ..emotions import EMOTIONS
from ..features import read_h5


def library_emotion_accuracy(features_path: str | os.PathLike, dataset: StickerDataset) -> dict | None:
    """The teacher's accuracy on the library stickers whose emotion the dataset records (the demo records all).

    `features_path` is the teacher features file of the library (`pbr embed DATA --teacher`); its `probs` give
    the teacher's prediction. None when no sticker has a recorded emotion.
    """
    features = read_h5(features_path, "teacher_features")
    ids = [str(value) for value in features.arrays["ids"]]
    predicted = features.arrays["probs"].argmax(axis=1)
    truth = np.array(
        [
            EMOTIONS.index(dataset.stickers[i].emotion) if i in dataset.stickers and dataset.stickers[i].emotion else -1
            for i in ids
        ]
    )
    known = truth >= 0
    if not known.any():
        return None
    return {"accuracy": float((predicted[known] == truth[known]).mean()), "n": int(known.sum())}


def teacher_summary(teacher_path: str | os.PathLike, features_path: str | os.PathLike, dataset: StickerDataset) -> dict:
    """The demo teacher's accuracy on its emotion test split (from its training report) and on the library."""
    from ..teacher import load_teacher

    splits = load_teacher(teacher_path).info.get("splits", {})
    summary = {"test_accuracy": splits.get("test", {}).get("accuracy")}
    library = library_emotion_accuracy(features_path, dataset)
    if library is not None:
        summary.update(library_accuracy=library["accuracy"], library_stickers=library["n"])
    return summary
