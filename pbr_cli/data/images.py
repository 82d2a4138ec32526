"""Image files: decoding to RGB uint8 (transparency on white), finding images in folders, safe dataset paths."""

from __future__ import annotations

import ntpath
import os
import stat
import threading
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import DataError

IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".npy")
DEFAULT_MAX_PIXELS = 64_000_000  # 64 megapixels: far above any sticker, far below a decompression bomb
_PIL_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP")  # the only decoders Pillow may try
_ALPHA_MODES = ("RGBA", "RGBa", "LA", "La", "PA")


def load_image(path: str | os.PathLike, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode an image file to an (H, W, 3) uint8 RGB array; transparent pixels are composited on white.

    Reads png, jpg/jpeg, webp, gif (first frame), bmp and .npy arrays (HW, HWC with 1-4 channels, or
    CHW). Raises DataError naming the file when it is missing, empty, corrupt, truncated, of an
    unsupported type, or larger than `max_pixels` (None: no limit beyond Pillow's own).
    """
    path = Path(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise DataError("image file not found", path) from None
    except OSError as exc:
        raise DataError(f"cannot read image: {exc.strerror or exc}", path) from None
    if stat.S_ISDIR(info.st_mode):
        raise DataError("is a folder, expected an image file", path)
    suffix = path.suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise DataError(f"unsupported image type '{path.suffix}' (supported: {', '.join(IMAGE_SUFFIXES)})", path)
    if info.st_size == 0:
        raise DataError("image file is empty (0 bytes)", path)
    if suffix == ".npy":
        return _load_array(path, max_pixels)
    return _load_picture(path, max_pixels)


def _check_pixels(height: int, width: int, max_pixels: int | None, path: Path) -> None:
    if height <= 0 or width <= 0:
        raise DataError(f"image has no pixels ({width}x{height})", path)
    if max_pixels is not None and height * width > max_pixels:
        raise DataError(
            f"image is {width}x{height} = {height * width:,} pixels, over the limit of {max_pixels:,} "
            "(refused as a possible decompression bomb)",
            path,
        )


def _over_white(rgba: np.ndarray) -> np.ndarray:
    """Composite an (H, W, 4) uint8 array on a white background; returns (H, W, 3) uint8."""
    alpha = rgba[..., 3:4]
    if alpha.min() == 255:
        return np.ascontiguousarray(rgba[..., :3])
    alpha = alpha.astype(np.uint16)
    color = rgba[..., :3].astype(np.uint16)
    return ((color * alpha + 255 * (255 - alpha) + 127) // 255).astype(np.uint8)


_OPEN_LOCK = threading.Lock()


def _open_picture(path: Path) -> Image.Image:
    """Image.open (reads the header only), with Pillow's decompression-bomb warning raised as an error.

    Pillow warns rather than fails on images a little over its own limit. Warning filters are process-wide,
    so the filter change is serialised; decoding happens after, outside the lock, in parallel.
    """
    with _OPEN_LOCK, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        return Image.open(path, formats=_PIL_FORMATS)


def _load_picture(path: Path, max_pixels: int | None) -> np.ndarray:
    try:
        with _open_picture(path) as image:
            _check_pixels(image.height, image.width, max_pixels, path)
            if image.mode in _ALPHA_MODES or "transparency" in image.info:
                return _over_white(np.array(image.convert("RGBA"), dtype=np.uint8))
            return np.array(image.convert("RGB"), dtype=np.uint8)
    except DataError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DataError(f"image refused as a possible decompression bomb: {exc}", path) from None
    except UnidentifiedImageError:
        raise DataError(f"not a readable image: the content is not {'/'.join(_PIL_FORMATS)}", path) from None
    except MemoryError:
        raise
    except Exception as exc:  # decoders raise OSError, SyntaxError, zlib.error, struct.error, ...
        raise DataError(f"corrupt or truncated image: {exc}", path) from None


def _load_array(path: Path, max_pixels: int | None) -> np.ndarray:
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)  # reads the header only
    except Exception as exc:
        raise DataError(f"not a readable .npy array: {exc}", path) from None
    if not isinstance(array, np.ndarray):
        raise DataError("expected a single .npy array", path)
    if array.ndim == 3 and array.shape[-1] not in (1, 2, 3, 4) and array.shape[0] in (1, 3, 4):
        array = array.transpose(1, 2, 0)  # CHW -> HWC
    if array.ndim == 3 and array.shape[-1] in (1, 2, 3, 4):
        channels = array.shape[-1]
    elif array.ndim == 2:
        channels = 0
    else:
        raise DataError(f"expected an (H, W, 3) image array, got shape {tuple(array.shape)}", path)
    _check_pixels(array.shape[0], array.shape[1], max_pixels, path)
    try:
        pixels = np.array(array)  # (H, W[, C]) now in memory
    except Exception as exc:
        raise DataError(f"corrupt or truncated .npy array: {exc}", path) from None
    if pixels.dtype != np.uint8:
        if pixels.dtype.kind not in "ui" or pixels.size and (pixels.min() < 0 or pixels.max() > 255):
            raise DataError(f"expected uint8 pixel values, got {pixels.dtype}", path)
        pixels = pixels.astype(np.uint8)
    if channels == 0:
        pixels = pixels[..., None]
        channels = 1
    if channels == 1:
        return np.repeat(pixels, 3, axis=2)
    if channels == 2:
        gray, alpha = pixels[..., :1], pixels[..., 1:]
        return _over_white(np.concatenate([gray, gray, gray, alpha], axis=2))
    if channels == 4:
        return _over_white(pixels)
    return np.ascontiguousarray(pixels)


def is_hidden(name: str) -> bool:
    return name.startswith(".")


def find_images(folder: str | os.PathLike) -> list[Path]:
    """Every image file under `folder` (recursive, hidden files and folders skipped), sorted by relative path."""
    root = Path(folder)
    if not root.exists():
        raise DataError("folder not found", root)
    if not root.is_dir():
        raise DataError("expected a folder of images", root)
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(name for name in dirnames if not is_hidden(name))
        for name in filenames:
            if not is_hidden(name) and os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES:
                found.append(Path(dirpath, name))
    return sorted(found, key=lambda image_path: image_path.relative_to(root).parts)


class ContainedFolder:
    """Resolves relative paths read from a dataset file, refusing any that lead outside the dataset folder.

    `source` is the dataset file errors name (default: the folder). Real paths of folders are cached per
    instance, so checking a large library costs one `lstat` per file.
    """

    def __init__(self, root: str | os.PathLike, source: str | os.PathLike | None = None):
        self.root = Path(root).absolute()
        self.source = Path(source) if source is not None else self.root
        self._real_root = os.path.realpath(self.root)
        self._real_dirs: dict[str, str] = {}

    def _inside(self, real_path: str) -> bool:
        return real_path == self._real_root or real_path.startswith(self._real_root.rstrip(os.sep) + os.sep)

    def _fail(self, what: str, relative: str, problem: str) -> DataError:
        return DataError(f"{what} '{relative}' {problem}", self.source)

    def join(self, relative: str | os.PathLike, what: str = "path", must_exist: bool = False) -> Path:
        """`root / relative`, checked: relative, not escaping with '..', no symlink out; optionally an existing file."""
        text = os.fspath(relative)
        if not text.strip():
            raise self._fail(what, text, "is empty")
        if text.startswith(("/", "\\")) or ntpath.splitdrive(text)[0]:
            raise self._fail(what, text, "is absolute; paths must be relative to the dataset folder")
        normal = os.path.normpath(text)
        if normal == os.pardir or normal.startswith(os.pardir + os.sep):
            raise self._fail(what, text, "leaves the dataset folder")
        full = os.path.join(self.root, normal)
        folder = os.path.dirname(full)
        real_folder = self._real_dirs.get(folder)
        if real_folder is None:
            real_folder = self._real_dirs[folder] = os.path.realpath(folder)
        if not self._inside(real_folder):
            raise self._fail(what, text, "is under a symlink that resolves outside the dataset folder")
        try:
            info = os.lstat(full)
        except OSError:
            if must_exist:
                raise self._fail(what, text, f"does not exist ({full})") from None
            return Path(full)
        if stat.S_ISLNK(info.st_mode):
            if not self._inside(os.path.realpath(full)):
                raise self._fail(what, text, "is a symlink that resolves outside the dataset folder")
            if must_exist and not os.path.isfile(full):
                raise self._fail(what, text, f"is a broken symlink ({full})")
        elif must_exist and not stat.S_ISREG(info.st_mode):
            raise self._fail(what, text, f"is not a file ({full})")
        return Path(full)


def safe_join(
    root: str | os.PathLike,
    relative: str | os.PathLike,
    what: str = "path",
    *,
    source: str | os.PathLike | None = None,
    must_exist: bool = False,
) -> Path:
    """Resolve `relative` (read from a dataset file) under `root`; DataError if absolute, escaping or symlinked out.

    `what` starts the message (e.g. "line 3: path"); `source` is the file the error names (default `root`).
    """
    return ContainedFolder(root, source).join(relative, what, must_exist)
