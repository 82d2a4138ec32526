"""The in-memory model every dataset reader produces: stickers, dialogues, splits, labelled images."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..emotions import EMOTIONS

N_CANDIDATES = 10

ImageLoader = Callable[[], np.ndarray]


@dataclass
class Sticker:
    """One sticker image: its id, topic (sticker set / character), optional emotion, and how to load it."""

    id: str
    topic: str
    path: Path | None = None
    emotion: str | None = None
    loader: ImageLoader | None = None

    def image(self) -> np.ndarray:
        """The sticker as an RGB uint8 array (H, W, 3)."""
        if self.loader is not None:
            return self.loader()
        if self.path is None:
            raise ValueError(f"sticker {self.id} has neither a path nor a loader")
        from .images import load_image

        return load_image(self.path)


@dataclass
class Dialogue:
    """One sample: the context utterances (oldest first), the ground-truth sticker, optional fixed candidates."""

    id: str
    context: list[str]
    sticker: str
    candidates: list[str] | None = None
    where: str = ""  # "FILE: line N" (or record / turn) it was read from, for messages


@dataclass
class StickerDataset:
    """A sticker-response-selection dataset: a sticker library and dialogue splits with candidate sets.

    After loading, every dialogue has `candidates` filled (fixed by the data or drawn by
    `candidates.assign_candidates`), and `filled_from_other_topics` counts the sets that needed
    stickers from other topics because their topic had fewer than `N_CANDIDATES`.
    """

    name: str
    root: Path
    format: str
    stickers: dict[str, Sticker]
    splits: dict[str, list[Dialogue]]
    filled_from_other_topics: int = 0
    sources: dict[str, Path] = field(default_factory=dict)  # split -> the file it was read from, where one is
    # every split the dataset has, read or not (a reader asked for some splits reads only those): for messages
    available_splits: tuple[str, ...] = ()

    def split(self, name: str) -> list[Dialogue]:
        from ..errors import DataError

        if name not in self.splits:
            available = ", ".join(self.available_splits or self.splits) or "none"
            raise DataError(f"no '{name}' split (available: {available})", self.root)
        return self.splits[name]

    def topics(self) -> dict[str, list[str]]:
        """Sticker ids by topic, in library order."""
        by_topic: dict[str, list[str]] = {}
        for sticker in self.stickers.values():
            by_topic.setdefault(sticker.topic, []).append(sticker.id)
        return by_topic


@dataclass
class LabelledImage:
    """An emotion-labelled image for the teacher (SER30K / ImageFolder): label indexes `EMOTIONS`."""

    id: str
    path: Path
    label: int
    topic: str = ""

    def image(self) -> np.ndarray:
        from .images import load_image

        return load_image(self.path)


@dataclass
class EmotionImageSet:
    """Emotion-labelled images by split ('train', 'val', 'test'; a folder without splits has only 'train')."""

    root: Path
    format: str
    splits: dict[str, list[LabelledImage]] = field(default_factory=dict)
    class_names: tuple[str, ...] = EMOTIONS
