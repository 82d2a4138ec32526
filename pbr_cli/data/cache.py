"""Sticker images decoded once into a uint8 array at the model's resolution, memory-mapped from the cache folder."""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..errors import DataError
from .types import Sticker


def cache_root() -> Path:
    return Path(os.environ.get("PBR_CACHE_DIR", Path.home() / ".cache" / "pbr"))


def square_resize(image: np.ndarray, size: int) -> np.ndarray:
    """(H, W, 3) uint8 -> (size, size, 3): resized to fit (keeping the aspect ratio), centred on white.

    Work and memory are bounded by the input and the output: a 1 x 60,000 strip never becomes a square canvas.
    """
    from PIL import Image

    from .images import fit_in_square

    if image.shape[:2] == (size, size):
        return image
    return np.asarray(fit_in_square(Image.fromarray(image), size, Image.BILINEAR))


def fingerprint(stickers: Sequence[Sticker], size: int) -> str:
    # the version changes whenever decoding does (v3: EXIF orientation, a GIF's bare canvas), so no cache
    # written by an earlier decoder is read back
    digest = hashlib.sha256(f"v3:{size}".encode())
    for sticker in stickers:
        digest.update(sticker.id.encode("utf-8") + b"\0")
        if sticker.path is not None:
            try:
                stat = os.stat(sticker.path)
                digest.update(f"{os.path.abspath(sticker.path)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
            except OSError:
                digest.update(str(sticker.path).encode())
    return digest.hexdigest()[:20]


def decode_stickers(
    stickers: Sequence[Sticker], size: int, skip_bad: bool = False, progress: Callable[[int], None] | None = None
) -> tuple[np.ndarray, list[int]]:
    """(S, 3, size, size) uint8 for the stickers, and the indices of images that could not be read (if skip_bad)."""
    array = np.empty((len(stickers), 3, size, size), dtype=np.uint8)
    bad: list[int] = []

    def one(index: int) -> None:
        try:
            array[index] = square_resize(stickers[index].image(), size).transpose(2, 0, 1)
        except DataError:
            if not skip_bad:
                raise
            array[index] = 255
            bad.append(index)

    workers = min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(workers) as pool:
        for _ in pool.map(one, range(len(stickers))):
            if progress:
                progress(1)
    return array, sorted(bad)


def sticker_image_cache(
    stickers: Sequence[Sticker],
    size: int,
    skip_bad: bool = False,
    progress: Callable[[int], None] | None = None,
    on_skipped: Callable[[list[int]], None] | None = None,
) -> np.ndarray:
    """The decoded sticker library, from the cache when its files are unchanged, else decoded and cached.

    With `skip_bad`, unreadable images become white placeholders and `on_skipped` gets their indices.
    """
    from ..io import atomic_path

    path = cache_root() / "images" / f"{fingerprint(stickers, size)}.npy"
    if path.is_file():
        try:
            array = np.load(path, mmap_mode="r")
            if array.shape == (len(stickers), 3, size, size):
                return array
        except (OSError, ValueError):
            pass
    array, bad = decode_stickers(stickers, size, skip_bad, progress)
    if bad:
        if on_skipped:
            on_skipped(bad)
        return array  # never cache a library with placeholder images
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path, suffix=".npy") as tmp:
            with open(tmp, "wb") as handle:
                np.save(handle, array)
    except Exception:
        pass  # the cache is an optimisation; an unwritable cache folder only costs decode time
    return array
