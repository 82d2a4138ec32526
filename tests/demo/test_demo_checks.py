"""The demo's teacher check: accuracy on the library stickers' recorded emotions, counted by hand."""

from pathlib import Path

import numpy as np

import pbr_cli.demo.checks as checks
from pbr_cli.data.types import Sticker, StickerDataset
from pbr_cli.features import H5Data


def test_library_accuracy_counts_stickers_with_a_recorded_emotion(monkeypatch):
    stickers = {
        "a": Sticker("a", "t", emotion="happiness"),
        "b": Sticker("b", "t", emotion="anger"),
        "c": Sticker("c", "t", emotion="fear"),
        "d": Sticker("d", "t"),
    }  # d: no emotion recorded
    dataset = StickerDataset(name="t", format="pbr", root=Path("."), stickers=stickers, splits={})
    probs = np.zeros((4, 7), np.float32)
    probs[0, 1] = probs[1, 5] = probs[2, 0] = probs[3, 2] = 1.0  # happiness, anger right; fear called surprise
    features = H5Data(Path("f.h5"), "teacher_features", {"ids": np.array(["a", "b", "c", "d"]), "probs": probs})
    monkeypatch.setattr(checks, "read_h5", lambda path, kind: features)
    assert checks.library_emotion_accuracy("f.h5", dataset) == {"accuracy": 2 / 3, "n": 3}
    unlabelled = StickerDataset(name="t", format="pbr", root=Path("."), stickers={"d": Sticker("d", "t")}, splits={})
    assert checks.library_emotion_accuracy("f.h5", unlabelled) is None
