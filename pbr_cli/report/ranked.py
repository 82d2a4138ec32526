"""What a ranked sticker sheet shows: the ranked stickers with score and polarity, and their thumbnails."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from .polarity import StickerPolarity, sticker_polarity

if TYPE_CHECKING:
    from PIL import Image

    from ..features import H5Data

PLACEHOLDER_COLOR = (236, 236, 236)


@dataclass
class RankedSticker:
    """One row of a ranking as the sheets draw it."""

    rank: int
    sticker_id: str
    path: str
    score: float
    polarity: float | None = None  # 0 negative .. 1 positive; None unknown
    emotion: str | None = None


@dataclass
class Ranking:
    """A dialogue and its best stickers, ready to draw."""

    context: list[str]  # utterances, oldest first
    stickers: list[RankedSticker]
    score_name: str = "ITM"  # what the scores are: "ITM" match probability or "ITC" cosine
    library_size: int = 0  # how many stickers were ranked
    polarity_source: str = ""  # where the polarity bars come from ("" when there are none)


def library_emotions(library: str | os.PathLike, ids: Sequence[str]) -> list[str | None]:
    """Each sticker's emotion label when `library` is a pbr dataset folder (stickers.jsonl), else None."""
    from ..data.pbrfolder import is_pbr_folder, read_pbr_stickers

    library = Path(library)
    if not library.is_dir() or not is_pbr_folder(library):
        return [None] * len(ids)
    stickers = read_pbr_stickers(library)
    return [stickers[sticker_id].emotion if sticker_id in stickers else None for sticker_id in ids]


def build_ranking(
    context: list[str],
    rows: Sequence[dict],
    library: str | os.PathLike,
    teacher: H5Data | None = None,
    score_name: str = "ITM",
    library_size: int = 0,
) -> Ranking:
    """The `pbr rank` rows ({rank, id, path, score}) with each sticker's polarity: emotion label, else teacher."""
    ids = [str(row["id"]) for row in rows]
    emotions = library_emotions(library, ids)
    polarity: StickerPolarity = sticker_polarity(ids, emotions, teacher)
    stickers = [
        RankedSticker(
            int(row["rank"]),
            str(row["id"]),
            str(row["path"]),
            float(row["score"]),
            float(value) if known else None,
            emotion,
        )
        for row, value, known, emotion in zip(rows, polarity.values, polarity.known, emotions)
    ]
    return Ranking(list(context), stickers, score_name.upper(), library_size or len(rows), polarity.source)


def thumbnail(path: str, size: int) -> Image.Image:
    """The sticker as an RGB image fitted into size x size on white; a grey square when it cannot be read."""
    import numpy as np
    from PIL import Image

    from ..data.images import fit_in_square, load_image
    from ..errors import DataError

    try:
        picture = Image.fromarray(np.asarray(load_image(path)))
    except DataError as exc:
        from .. import console

        console.warn(f"{exc}; drawn as a grey square")
        return Image.new("RGB", (size, size), PLACEHOLDER_COLOR)
    enlarged = size >= 2 * max(picture.size)  # small stickers stay crisp when enlarged
    return fit_in_square(picture, size, Image.NEAREST if enlarged else Image.LANCZOS)
