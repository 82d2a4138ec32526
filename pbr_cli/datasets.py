"""Which data a step works on: the dataset or emotion-labelled images the user named, else the built-in demo's."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Collection

from . import console
from .errors import ConfigError

if TYPE_CHECKING:
    from .data.types import EmotionImageSet, StickerDataset


def demo_dataset_root(build: bool = True) -> Path:
    """The demo dataset's folder (seed 0), built on first use; with `build` False only where it is (or will be)."""
    from .demo.build import default_demo_dir, ensure_demo

    if not build:
        return default_demo_dir(seed=0)
    root = ensure_demo(seed=0)
    console.info(f"using the demo dataset at {root}")
    return root


def dataset_path(data: str | os.PathLike | None, build: bool = True) -> Path:
    """`data`, or the demo dataset's folder when no dataset is named (built first unless `build` is False)."""
    return demo_dataset_root(build) if data is None else Path(data)


def load_dataset(data: str | os.PathLike | None, splits: Collection[str] | None = None) -> StickerDataset:
    """The dataset at `data` (any layout `open_dataset` reads), or the built-in demo dataset (built on first use);
    with `splits`, only those splits are read."""
    from .data import open_dataset

    return open_dataset(dataset_path(data), splits)


def teacher_data_path(data: str | os.PathLike | None, build: bool = True) -> Path:
    """`data`, or the demo's emotion-labelled images when no folder is named (built first unless `build` is False)."""
    if data is not None:
        return Path(data)
    try:
        from .demo.build import default_demo_dir, ensure_demo
    except ImportError:
        raise ConfigError(
            "no DATA given and the demo dataset is not available; name a SER30K folder or a root/<emotion>/* folder"
        ) from None
    if not build:
        return default_demo_dir() / "emotion"
    data = Path(ensure_demo()) / "emotion"
    console.info(f"using the demo's emotion-labelled images at {data}")
    return data


def open_teacher_data(data: str | os.PathLike | None) -> EmotionImageSet:
    """The emotion-labelled images at `data` (SER30K or root/<emotion>/*), or the demo's (built on first use)."""
    from .data import open_emotion_images

    return open_emotion_images(teacher_data_path(data))
