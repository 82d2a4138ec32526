"""Image files: decoding to RGB uint8 (transparency on white), finding images in folders, safe dataset paths."""

from __future__ import annotations

import contextlib
import ntpath
import os
import stat
import struct
import threading
import unicodedata
import warnings
from contextvars import ContextVar
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import DataError
from .records import holds_surrogate, printable

IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".npy")
OTHER_IMAGE_SUFFIXES = (".tif", ".tiff", ".heic", ".heif", ".avif", ".jxl", ".svg", ".ico", ".tga", ".psd")
DEFAULT_MAX_PIXELS = 64_000_000  # 64 megapixels: far above any sticker, far below a decompression bomb
MAX_SIDE = 65_535  # the largest side JPEG and GIF can hold; a longer side is a corrupt header or a bomb's shape
_PIL_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP")  # the only decoders Pillow may try
_SIGNATURES = (  # (format, offset, magic bytes): what a file that Pillow cannot open was meant to be
    ("PNG", 0, b"\x89PNG\r\n\x1a\n"),
    ("JPEG", 0, b"\xff\xd8\xff"),
    ("GIF", 0, b"GIF87a"),
    ("GIF", 0, b"GIF89a"),
    ("WEBP", 8, b"WEBP"),
    ("BMP", 0, b"BM"),
    ("NPY", 0, b"\x93NUMPY"),
)
_ALPHA_MODES = ("RGBA", "RGBa", "LA", "La", "PA")
_WIDE_GREY_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")  # 16-bit greyscale (PNG, TIFF); "I" holds it too
_ORIENTATION_TAG = 0x0112  # EXIF Orientation
_NOT_IN_PATHS = {"Cc": "the control character", "Cs": "the unpaired surrogate"}  # Unicode categories refused


def load_image(path: str | os.PathLike, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode an image file to an (H, W, 3) uint8 RGB array; transparent pixels are composited on white (so is
    the canvas a GIF's first frame leaves bare, as browsers show it).

    Reads png, jpg/jpeg, webp, gif (first frame), bmp and .npy arrays (HW, HWC with 1-4 channels, or
    CHW). A picture with an EXIF Orientation tag is turned upright, as image viewers show it. Raises
    DataError naming the file when it is missing, empty, corrupt, truncated, of an unsupported type,
    larger than `max_pixels` (None: no limit beyond Pillow's own) or with a side longer than MAX_SIDE.
    The size is checked from the header, before any pixel is decoded.
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
    if max(height, width) > MAX_SIDE:
        raise DataError(
            f"image is {width}x{height}: a side over {MAX_SIDE:,} pixels is refused "
            "(a corrupt header or a decompression bomb)",
            path,
        )
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
            orientation = _orientation(image)
            drawn = _first_frame_box(image)
            if image.mode in _WIDE_GREY_MODES:
                pixels = _wide_grey(image)
            elif image.mode in _ALPHA_MODES or "transparency" in image.info:
                pixels = _over_white(np.array(image.convert("RGBA"), dtype=np.uint8))
            else:
                pixels = np.array(image.convert("RGB"), dtype=np.uint8)
            if drawn is not None:  # the canvas the first frame leaves bare shows as transparent: white here
                left, top, right, bottom = drawn
                covered = np.zeros(pixels.shape[:2], dtype=bool)
                covered[top:bottom, left:right] = True
                pixels = np.where(covered[..., None], pixels, np.uint8(255))
            return _upright(pixels, orientation)
    except DataError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DataError(f"{_kind(path)} refused as a possible decompression bomb: {exc}", path) from None
    except UnidentifiedImageError:
        raise DataError(_why_unidentified(path), path) from None
    except MemoryError:
        raise
    except Exception as exc:  # decoders raise OSError, SyntaxError, zlib.error, struct.error, ...
        raise DataError(f"corrupt or truncated {_kind(path)}: {exc}", path) from None


def _first_frame_box(image: Image.Image) -> tuple[int, int, int, int] | None:
    """(left, top, right, bottom) of a GIF's first frame when it covers only part of the canvas, else None.

    Pillow fills the rest with the GIF's background colour (often black); browsers show it transparent, and
    pbr composites transparency on white. Read before the pixels are loaded (the tile list is emptied then).
    """
    if image.format != "GIF" or len(image.tile) != 1:
        return None
    left, top, right, bottom = image.tile[0][1]
    if (left, top, right, bottom) == (0, 0, image.width, image.height):
        return None
    return max(left, 0), max(top, 0), min(right, image.width), min(bottom, image.height)


def _orientation(image: Image.Image) -> int:
    """The EXIF Orientation tag (1-8; 1 when absent or unreadable): how a viewer turns the stored pixels.

    Phone photos are stored as the sensor saw them and tagged; a damaged EXIF block does not make the pixels
    unreadable, so it counts as no tag. Pillow reads a PNG's eXIf chunk only once the pixels are loaded.
    """
    try:
        value = image.getexif().get(_ORIENTATION_TAG, 1)
    except Exception:  # noqa: BLE001 - EXIF parsers raise anything on a damaged block
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _upright(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """(H, W, 3) pixels turned as EXIF orientation 1-8 says (Pillow's ImageOps.exif_transpose, on the array)."""
    if orientation in (5, 6, 7, 8):
        pixels = pixels.transpose(1, 0, 2)  # 5: transposed; 6, 7, 8 are this plus a flip
    if orientation in (2, 3, 6, 7):
        pixels = pixels[:, ::-1]
    if orientation in (3, 4, 7, 8):
        pixels = pixels[::-1]
    return np.ascontiguousarray(pixels) if orientation != 1 else pixels


def _wide_grey(image: Image.Image) -> np.ndarray:
    """A 16-bit greyscale picture as RGB uint8, its 0-65535 range scaled to 0-255.

    Pillow's convert("RGB") clips such values instead, so anything above 255 of 65535 turned white.
    A transparent grey value (PNG's tRNS) is composited on white as other transparency is.
    """
    values = np.asarray(image).astype(np.int64)
    grey = ((np.clip(values, 0, 65535) * 255 + 32767) // 65535).astype(np.uint8)
    rgb = np.repeat(grey[..., None], 3, axis=2)
    key = image.info.get("transparency")
    if isinstance(key, int):
        alpha = np.where(values == key, 0, 255).astype(np.uint8)
        return _over_white(np.dstack([rgb, alpha]))
    return rgb


def _sniff(path: Path) -> str | None:
    """The format a file's first bytes announce (see _SIGNATURES), or None."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
    except OSError:
        return None
    return next((name for name, offset, magic in _SIGNATURES if head[offset : offset + len(magic)] == magic), None)


def _kind(path: Path) -> str:
    """'PNG image' (the format the file's first bytes announce), or 'image'."""
    claimed = _sniff(path)
    return f"{claimed} image" if claimed else "image"


def _why_unidentified(path: Path) -> str:
    """What is wrong with a file Pillow could not open: not an image at all, or a broken file of a known format."""
    expected = "/".join(_PIL_FORMATS)
    claimed = _sniff(path)
    if claimed is None:
        return f"not a readable image: the content is not {expected}"
    if claimed == "NPY":
        return f"not a readable image: the content is a NumPy .npy array, not {expected} (name it .npy)"
    try:
        with Image.OPEN[claimed][0](os.fspath(path)):  # the one plugin, to hear why it refuses the file
            pass
    except Exception as exc:
        cause = exc.__cause__ or exc  # Pillow re-raises a plugin's EOFError / struct.error as SyntaxError
        if isinstance(cause, EOFError) and claimed == "GIF":
            return "GIF has no frames"
        if isinstance(cause, (EOFError, IndexError, struct.error)):
            return f"truncated {claimed} image: the file ends inside its header"
        return f"corrupt or truncated {claimed} image: {exc}"
    return f"corrupt or truncated {claimed} image"


def _load_array(path: Path, max_pixels: int | None) -> np.ndarray:
    claimed = _sniff(path)
    if claimed != "NPY":
        content = f"the content is a {claimed} image (name it .{claimed.lower()})" if claimed else "no NumPy header"
        raise DataError(f"not a readable .npy array: {content}", path)
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


def fit_in_square(picture: Image.Image, size: int, resample: int) -> Image.Image:
    """`picture` scaled so that its longer side is `size`, centred on a white size x size RGB square.

    Scaling comes before padding, so the work is bounded by the input and the output whatever the aspect ratio.
    """
    scale = size / max(picture.size)
    if scale != 1:
        picture = picture.resize(
            (max(1, round(picture.width * scale)), max(1, round(picture.height * scale))), resample
        )
    if picture.size == (size, size):
        return picture
    canvas = Image.new("RGB", (size, size), "white")
    canvas.paste(picture, ((size - picture.width) // 2, (size - picture.height) // 2))
    return canvas


def is_hidden(name: str) -> bool:
    return name.startswith(".")


def refuse_undecodable_name(name: str, folder: str | os.PathLike) -> None:
    """DataError when a file name read from `folder` is not UTF-8 (Python keeps its bytes as lone surrogates).

    Its sticker id could be written to no output (HDF5 strings, JSON, an HTTP reply), so it is refused first.
    """
    if holds_surrogate(name):
        raise DataError(f"file name '{printable(name)}' is not UTF-8; rename it", folder)


def find_images(folder: str | os.PathLike, left_out: list[Path] | None = None) -> list[Path]:
    """Every image file under `folder` (recursive, into folders linked from elsewhere too, each folder once;
    hidden files and folders skipped), sorted by relative path.

    Pictures of a type pbr does not read (OTHER_IMAGE_SUFFIXES: TIFF, HEIC, SVG, ...) are not images here;
    they are appended to `left_out` when given, else announced in one notice, so none vanishes unseen.
    """
    root = Path(folder)
    if not root.exists():
        raise DataError("folder not found", root)
    if not root.is_dir():
        raise DataError("expected a folder of images", root)
    found: list[Path] = []
    others: list[Path] = []
    # linked folders are followed when they lead outside `folder` (a library assembled from links), each once;
    # a link to a folder inside it (or to it: a cycle) is skipped, that folder being walked as itself
    inside = os.path.realpath(root)
    walked = {inside}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        kept = []
        for name in sorted(name for name in dirnames if not is_hidden(name)):
            full = os.path.join(dirpath, name)
            real = os.path.realpath(full)
            linked_inside = os.path.islink(full) and (real == inside or real.startswith(inside.rstrip(os.sep) + os.sep))
            if not linked_inside and real not in walked:
                walked.add(real)
                kept.append(name)
        dirnames[:] = kept
        for name in dirnames:
            refuse_undecodable_name(name, dirpath)
        for name in filenames:
            suffix = os.path.splitext(name)[1].lower()
            if is_hidden(name):
                continue
            if suffix in IMAGE_SUFFIXES:
                refuse_undecodable_name(name, dirpath)
                found.append(Path(dirpath, name))
            elif suffix in OTHER_IMAGE_SUFFIXES:
                others.append(Path(dirpath, name))
    if left_out is not None:
        left_out.extend(others)
    else:
        note_left_out(root, others)
    return sorted(found, key=lambda image_path: image_path.relative_to(root).parts)


def note_left_out(folder: Path, others: list[Path]) -> None:
    """One notice for the pictures under `folder` that find_images left out for their type."""
    if others:
        from .. import console

        first = min(others, key=lambda path: path.relative_to(folder).parts).relative_to(folder).as_posix()
        console.notice(
            f"{folder}: {len(others)} picture(s) of a type pbr does not read left out, e.g. '{printable(first)}' "
            f"(convert to one of {', '.join(s for s in IMAGE_SUFFIXES if s != '.npy')})"
        )


_MISSING_IMAGES_OK: ContextVar[bool] = ContextVar("missing_images_ok", default=False)


@contextlib.contextmanager
def missing_images_allowed(allowed: bool = True) -> Iterator[None]:
    """Within the block (when `allowed`), a dataset's image file that does not exist is not a reading error:
    `--skip-bad-images` leaves it out later, counted and named with the unreadable ones."""
    token = _MISSING_IMAGES_OK.set(allowed)
    try:
        yield
    finally:
        _MISSING_IMAGES_OK.reset(token)


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
        return DataError(f"{what} '{printable(relative)}' {problem}", self.source)

    def join(self, relative: str | os.PathLike, what: str = "path", must_exist: bool = False) -> Path:
        """`root / relative`, checked: relative, not escaping with '..', no symlink out; optionally an existing file.

        A path holding a NUL, another control character or text no file name can hold is refused too.
        """
        text = os.fspath(relative)
        if not text.strip():
            raise self._fail(what, text, "is empty")
        bad = next((char for char in text if unicodedata.category(char) in _NOT_IN_PATHS), None)
        if bad is not None:
            kind = _NOT_IN_PATHS[unicodedata.category(bad)]
            problem = "a NUL character" if bad == "\0" else f"{kind} U+{ord(bad):04X}"
            raise self._fail(what, text, f"contains {problem}, which a dataset path cannot hold")
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
        missing_ok = _MISSING_IMAGES_OK.get()
        try:
            info = os.lstat(full)
        except OSError:
            if must_exist and not missing_ok:
                hint = "; folders are separated by '/', not '\\'" if "\\" in text else ""
                raise self._fail(what, text, f"does not exist ({full}){hint}") from None
            return Path(full)
        if stat.S_ISLNK(info.st_mode):
            if not self._inside(os.path.realpath(full)):
                raise self._fail(what, text, "is a symlink that resolves outside the dataset folder")
            if must_exist and not missing_ok and not os.path.isfile(full):
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
