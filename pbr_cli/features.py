"""The HDF5 contract: one writer and one validating reader for every file kind pbr exchanges.

Every file carries the attributes `kind`, `schema_version`, `pbr_version`, `command` (the command
line that made it) and `created`, plus the kind's own attributes (hashes of the teacher or model it
came from, dimensions). Writes are atomic. Reads check kind, schema version, datasets (dtype, rank, row
counts, finite values), the type of every attribute, and the kind's own rules tying datasets and
attributes together (widths equal `dim`, anchors are `len(class_names)` x `M` rows, ...); each problem is
a `FormatError` naming the file and the dataset or attribute.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import re
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, NoReturn, Sequence

import numpy as np

from . import __version__
from .errors import FormatError
from .io import atomic_path

STR = "str"  # marker dtype for variable-length UTF-8 string datasets
# what h5py raises while reading a corrupt file: HDF5's error stack surfaces as OSError, RuntimeError or KeyError,
# a garbled datatype or dataspace as ValueError or TypeError
H5_ERRORS: tuple[type[Exception], ...] = (OSError, RuntimeError, KeyError, ValueError, TypeError)
ID_FORMATS: tuple[str, ...] = ("id", "split/id")  # sentiment ids: plain, or prefixed with their split


@dataclass(frozen=True)
class Spec:
    """A dataset in a file kind: dtype, number of dimensions, and whether it must be present."""

    dtype: str
    ndim: int
    required: bool = True


ATTR_TYPES: dict[str, str] = {  # attribute type -> what a value of it must be, as error messages say it
    "str": "a string",
    "int": "a positive integer",
    "count": "a non-negative integer",
    "names": "a non-empty list of non-empty strings",
    "counts": "a list of non-negative integers",
}


@dataclass(frozen=True)
class Attr:
    """An attribute of a file kind: its type (a key of ATTR_TYPES) and whether it must be present.

    A required string must not be empty; an optional one may be (writers store a missing value as "").
    """

    type: str
    required: bool = True


@dataclass(frozen=True)
class Kind:
    """One file kind: its schema version, datasets (all sharing the first axis N), attrs and own rules."""

    name: str
    version: int
    datasets: Mapping[str, Spec]
    attrs: Mapping[str, Attr] = field(default_factory=dict)
    rows: str | None = "ids"  # dataset whose length defines N; None when datasets are not row-aligned
    check: Callable[["H5Data"], None] | None = None  # rules tying datasets and attributes together


def _fail(data: "H5Data", message: str) -> NoReturn:
    raise FormatError(message, data.path)


def _width(data: "H5Data", name: str, expected: int, what: str) -> None:
    width = data[name].shape[1]
    if width != expected:
        _fail(data, f"dataset '{name}' is {width} wide, but {what} is {expected}")


def _first(mask: np.ndarray) -> int:
    """The first row of a boolean (N, ...) mask that holds a True anywhere."""
    return int(np.argmax(mask.reshape(len(mask), -1).any(axis=1)))


def _values_in(data: "H5Data", name: str, low: int, high: int) -> None:
    values = data[name]
    outside = (values < low) | (values > high)
    if outside.any():
        row = _first(outside)
        _fail(data, f"dataset '{name}' values must lie in {low}..{high}; row {row} holds {values[row]}")


def first_repeat(values: Sequence[Any]) -> tuple[Any, int, int] | None:
    """(value, its first row, the row it comes again) for the first value that repeats; None when none does."""
    first_row: dict[Any, int] = {}
    for row, value in enumerate(values):
        if value in first_row:
            return value, first_row[value], row
        first_row[value] = row
    return None


def _unique_ids(data: "H5Data") -> None:
    repeat = first_repeat(data["ids"].tolist())
    if repeat is not None:
        value, first, row = repeat
        _fail(data, f"dataset 'ids' holds '{value}' twice (rows {first} and {row})")


def _probabilities(data: "H5Data", names: tuple[str, ...], tolerance: float = 1e-3) -> None:
    """Each named dataset in 0..1 and, row by row, their values (all columns) adding up to 1."""
    if not len(data):
        return
    total = np.zeros(len(data))
    for name in names:
        values = data[name]
        outside = (values < 0) | (values > 1)
        if outside.any():
            row = _first(outside)
            _fail(data, f"dataset '{name}' values must lie in 0..1; row {row} holds {values[row]}")
        total += values.reshape(len(values), -1).sum(axis=1, dtype=np.float64)
    off = np.abs(total - 1.0) > tolerance
    if off.any():
        row = _first(off)
        what = " + ".join(f"'{name}'" for name in names)
        _fail(data, f"dataset {what} must add up to 1 in every row; row {row} adds up to {total[row]:.6g}")


def _split_rows(data: "H5Data") -> None:
    """The optional `split_rows` attr: "" or a JSON object {split: [start, stop]} of row ranges within N."""
    text = data.attrs.get("split_rows", "")
    if not text:
        return
    try:
        ranges = json.loads(text)
    except ValueError:
        ranges = None
    valid = isinstance(ranges, dict) and all(
        isinstance(span, list)
        and len(span) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in span)
        and 0 <= span[0] <= span[1] <= len(data)
        for span in ranges.values()
    )
    if not valid:
        _fail(
            data,
            f"attribute 'split_rows' must be a JSON object of [start, stop] row ranges within 0..{len(data)}, "
            f"got {_shown(text)}",
        )


def _check_teacher_features(data: "H5Data") -> None:
    classes = data.attrs["class_names"]
    _width(data, "features", data.attrs["dim"], "attribute 'dim'")
    _width(data, "probs", len(classes), "the number of attribute 'class_names'")
    _probabilities(data, ("probs",))
    if "labels" in data:
        _values_in(data, "labels", -1, len(classes) - 1)
    _split_rows(data)
    _unique_ids(data)  # rows are matched to stickers and images by id


def _check_anchors(data: "H5Data") -> None:
    classes, m = data.attrs["class_names"], data.attrs["M"]
    rows = len(data["anchors"])
    if rows != len(classes) * m:
        _fail(
            data,
            f"dataset 'anchors' has {rows} rows, but attribute 'M' = {m} anchors for each of the "
            f"{len(classes)} attribute 'class_names' make {len(classes) * m}",
        )
    _width(data, "anchors", data.attrs["dim"], "attribute 'dim'")
    expected = np.repeat(np.arange(len(classes)), m)
    wrong = data["emotion"] != expected
    if wrong.any():
        row = _first(wrong)
        _fail(
            data,
            f"dataset 'emotion' must be emotion-major (rows [c*M, (c+1)*M) hold emotion c); "
            f"row {row} holds {data['emotion'][row]}, expected {expected[row]}",
        )
    for name in ("images_per_emotion", "clusters_per_emotion"):
        if name in data.attrs and len(data.attrs[name]) != len(classes):
            _fail(
                data,
                f"attribute '{name}' has {len(data.attrs[name])} values, one per attribute 'class_names' "
                f"({len(classes)}) expected",
            )


def _check_sentiment(data: "H5Data") -> None:
    _unique_ids(data)
    id_format = data.attrs.get("id_format", "id")
    if id_format not in ID_FORMATS:
        _fail(data, f"attribute 'id_format' must be one of {', '.join(ID_FORMATS)}, got {_shown(id_format)}")
    _probabilities(data, ("pos", "neg"))


def _check_sticker_index(data: "H5Data") -> None:
    _unique_ids(data)
    _width(data, "embeddings", data.attrs["dim"], "attribute 'dim'")
    # ITC ranks by the dot product of unit vectors: an embedding of another length would skew every score
    embeddings = data["embeddings"]
    norms = np.sqrt(np.einsum("ij,ij->i", embeddings, embeddings, dtype=np.float32))
    off = np.abs(norms - 1) > 0.01  # stored as float16: lengths within ~1e-3 of 1
    if off.any():
        row = _first(off)
        _fail(data, f"dataset 'embeddings' row {row} has length {norms[row]:.4g}; an index stores unit vectors")


def _check_scores(data: "H5Data") -> None:
    _unique_ids(data)
    rows, n = data["scores"].shape
    if rows == 0 or n == 0:
        _fail(data, f"dataset 'scores' has shape {data['scores'].shape}: no dialogue or no candidate to rank")
    if "candidate_ids" in data and data["candidate_ids"].shape != data["scores"].shape:
        _fail(
            data,
            f"dataset 'candidate_ids' has shape {data['candidate_ids'].shape}, but 'scores' has {data['scores'].shape}",
        )
    _values_in(data, "label", 0, n - 1)


KINDS: dict[str, Kind] = {
    k.name: k
    for k in [
        Kind(
            "teacher_features",
            1,
            {
                "ids": Spec(STR, 1),
                "features": Spec("float32", 2),  # (N, C_S) teacher pooled penultimate feature V^e
                "probs": Spec("float32", 2),  # (N, 7) teacher softmax over the emotion classes
                "labels": Spec("int64", 1, False),  # (N,) emotion index, -1 unknown
                "topics": Spec(STR, 1, False),
                "paths": Spec(STR, 1, False),
            },
            {
                "teacher_hash": Attr("str"),
                "dim": Attr("int"),
                "class_names": Attr("names"),
                "split_rows": Attr("str", False),
                "skipped_images": Attr("count", False),
            },
            check=_check_teacher_features,
        ),
        Kind(
            "anchors",
            1,
            {
                "anchors": Spec("float32", 2),  # (7*M, C_S) emotion-major centroids E^T
                "emotion": Spec("int64", 1),  # (7*M,) emotion index of each anchor
            },
            {
                "teacher_hash": Attr("str"),
                "dim": Attr("int"),
                "M": Attr("int"),
                "class_names": Attr("names"),
                "images_per_emotion": Attr("counts", False),
                "clusters_per_emotion": Attr("counts", False),
            },
            rows="anchors",
            check=_check_anchors,
        ),
        Kind(
            "sentiment",
            1,
            {
                "ids": Spec(STR, 1),
                "raw_pos": Spec("float64", 1),
                "raw_neg": Spec("float64", 1),
                "pos": Spec("float32", 1),
                "neg": Spec("float32", 1),
            },
            {"lexicon": Attr("str"), "id_format": Attr("str", False)},
            check=_check_sentiment,
        ),
        Kind(
            "sticker_index",
            1,
            {
                "ids": Spec(STR, 1),
                "paths": Spec(STR, 1),
                "embeddings": Spec("float16", 2),  # (N, C) L2-normalised ITC embeddings
                "image_tokens": Spec("float16", 3, False),  # (N, L, C_V) image-tower tokens for ITM re-ranking
            },
            {"model_hash": Attr("str"), "dim": Attr("int"), "img_size": Attr("int", False)},
            check=_check_sticker_index,
        ),
        Kind(
            "scores",
            1,
            {
                "ids": Spec(STR, 1),
                "scores": Spec("float32", 2),  # (N, n_candidates)
                "label": Spec("int64", 1),  # (N,) index of the ground truth in each row
                "candidate_ids": Spec(STR, 2, False),  # (N, n_candidates)
            },
            check=_check_scores,
        ),
    ]
}


@dataclass
class H5Data:
    """What a reader returns: the file's arrays and attributes, already validated."""

    path: Path
    kind: str
    arrays: dict[str, np.ndarray]
    attrs: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.arrays[name]

    def __contains__(self, name: str) -> bool:
        return name in self.arrays

    def __len__(self) -> int:
        spec = KINDS[self.kind]
        return len(self.arrays[spec.rows]) if spec.rows else 0


def command_line() -> str:
    """The command line that is running, as a user could paste it."""
    argv = [os.path.basename(sys.argv[0]) or "pbr", *sys.argv[1:]]
    return shlex.join(argv)


def _coerce(name: str, spec: Spec, value: Any, path: Path) -> np.ndarray:
    if spec.dtype == STR:
        array = np.asarray(value, dtype=object)
        array = np.vectorize(str, otypes=[object])(array) if array.size else array
    else:
        try:
            array = np.asarray(value)
        except (TypeError, ValueError) as exc:
            raise FormatError(f"dataset '{name}' is not numeric ({exc})", path) from None
    if array.ndim != spec.ndim:
        raise FormatError(f"dataset '{name}' must have {spec.ndim} dimension(s), got shape {array.shape}", path)
    return array if spec.dtype == STR else _numeric(name, spec, array, path)


def _numeric(name: str, spec: Spec, raw: np.ndarray, path: Path) -> np.ndarray:
    """`raw` (at least 1-d) as the spec's dtype: numbers only, whole numbers for an integer dtype, finite floats
    that fit."""
    if raw.dtype.kind not in "fiub":
        raise FormatError(f"dataset '{name}' is not numeric (it holds {raw.dtype})", path)
    target = np.dtype(spec.dtype)
    if raw.dtype.kind == "f":
        _check_finite(name, raw, path)
        if target.kind in "iu" and raw.size and (raw != np.round(raw)).any():
            row = _first(raw != np.round(raw))
            raise FormatError(f"dataset '{name}' must hold whole numbers; row {row} holds {raw[row]}", path)
    if target.kind in "iu" and raw.size and raw.dtype.kind in "iuf":
        info = np.iinfo(target)
        outside = (raw < info.min) | (raw > info.max)
        if outside.any():
            row = _first(outside)
            raise FormatError(f"dataset '{name}' holds {raw[row]} at row {row}, beyond {target}", path)
    with np.errstate(over="ignore", invalid="ignore"):
        array = raw.astype(target, copy=False)
    if target.kind == "f":
        _check_finite(name, array, path, f"a value too large for {target}")
    return array


def _check_finite(name: str, array: np.ndarray, path: Path, what: str | None = None) -> None:
    """FormatError naming the dataset and its first row holding NaN or an infinite value."""
    if array.dtype.kind != "f" or not array.size:
        return
    bad = ~np.isfinite(array)
    if not bad.any():
        return
    row = _first(bad)
    found = what or ("NaN" if np.isnan(array[row]).any() else "an infinite value")
    raise FormatError(
        f"dataset '{name}' holds {found} at row {row} ({int(bad.sum())} of {array.size} values are not finite)", path
    )


def _readback(value: Any) -> Any:
    """An attribute value as `read_h5` will return it once written."""
    value = _attr_value(value)
    return _plain(np.asarray(value)) if isinstance(value, (list, tuple)) else _plain(value)


def _shown(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _attr_ok(attr: Attr, value: Any) -> bool:
    def integer(v: Any, low: int) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and v >= low

    if attr.type == "str":
        return isinstance(value, str) and (bool(value) or not attr.required)
    if attr.type == "int":
        return integer(value, 1)
    if attr.type == "count":
        return integer(value, 0)
    if attr.type == "names":
        return isinstance(value, list) and bool(value) and all(isinstance(v, str) and v for v in value)
    if attr.type == "counts":
        return isinstance(value, list) and all(integer(v, 0) for v in value)
    raise ValueError(f"unknown attribute type {attr.type!r}")


def _check_attrs(spec: Kind, attrs: Mapping[str, Any], path: Path) -> None:
    missing = [name for name, attr in spec.attrs.items() if attr.required and name not in attrs]
    if missing:
        raise FormatError(f"attribute(s) {', '.join(missing)} missing (required for kind '{spec.name}')", path)
    for name, attr in spec.attrs.items():
        if name in attrs and not _attr_ok(attr, attrs[name]):
            raise FormatError(f"attribute '{name}' must be {ATTR_TYPES[attr.type]}, got {_shown(attrs[name])}", path)


def _validate(data: H5Data) -> None:
    """Attribute types, row counts and the kind's own rules (dataset dtypes, ranks and values are checked on
    the way in)."""
    spec = KINDS[data.kind]
    _check_attrs(spec, data.attrs, data.path)
    _check_rows(spec, data.arrays, data.path)
    if spec.check is not None:
        spec.check(data)


def validated_h5(
    path: str | os.PathLike, kind: str, arrays: Mapping[str, Any], attrs: Mapping[str, Any] | None = None
) -> H5Data:
    """`arrays` and `attrs` as `read_h5` would read them back from `path` once written, validated the same way."""
    path = Path(path)
    spec = KINDS[kind]
    unknown = set(arrays) - set(spec.datasets)
    if unknown:
        raise FormatError(f"unknown dataset(s) for kind '{kind}': {', '.join(sorted(unknown))}", path)
    coerced = {}
    for name, ds in spec.datasets.items():
        if name in arrays and arrays[name] is not None:
            coerced[name] = _coerce(name, ds, arrays[name], path)
        elif ds.required:
            raise FormatError(f"dataset '{name}' is required for kind '{kind}'", path)
    data = H5Data(path, kind, coerced, {key: _readback(value) for key, value in (attrs or {}).items()})
    _validate(data)
    return data


def write_h5(
    path: str | os.PathLike, kind: str, arrays: Mapping[str, Any], attrs: Mapping[str, Any] | None = None
) -> Path:
    """Validate `arrays` and `attrs` as `read_h5` would read them back, and write them atomically to `path`."""
    import h5py

    path = Path(path)
    spec = KINDS[kind]
    coerced = validated_h5(path, kind, arrays, attrs).arrays
    attrs = dict(attrs or {})
    with atomic_path(path, suffix=".h5") as tmp:
        with h5py.File(tmp, "w") as handle:
            handle.attrs["kind"] = kind
            handle.attrs["schema_version"] = spec.version
            handle.attrs["pbr_version"] = __version__
            handle.attrs["command"] = command_line()
            handle.attrs["created"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
            for key, value in attrs.items():
                handle.attrs[key] = _attr_value(value)
            for name, array in coerced.items():
                if spec.datasets[name].dtype == STR:
                    handle.create_dataset(name, data=array.astype(object), dtype=h5py.string_dtype("utf-8"))
                else:
                    handle.create_dataset(name, data=array)
    return path


def _attr_value(value: Any) -> Any:
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
        return [str(v) for v in value]
    if value is None:
        return ""
    return value


def _check_rows(spec: Kind, arrays: Mapping[str, np.ndarray], path: Path) -> None:
    if spec.rows is None or spec.rows not in arrays:
        return
    n = len(arrays[spec.rows])
    for name, array in arrays.items():
        if len(array) != n:
            raise FormatError(f"dataset '{name}' has {len(array)} rows but '{spec.rows}' has {n}", path)


def read_h5(path: str | os.PathLike, kind: str, dim: int | None = None) -> H5Data:
    """Read and validate a pbr HDF5 file of the given kind; `dim`, when given, must match its `dim` attr.

    Every float dataset must be finite, every attribute of the kind of its type, and the datasets and
    attributes must agree with each other (see the kind's `check`); FormatError names the file and the
    dataset or attribute at fault.
    """
    path = Path(path)
    spec = KINDS[kind]
    if not path.exists():
        raise FormatError("file not found", path)
    if not path.is_file():
        raise FormatError("not a file", path)
    with open_h5(path) as handle:
        attrs = read_h5_attrs(handle, path)
        found = attrs.get("kind")
        if found is None:
            raise FormatError(f"not a pbr file (no 'kind' attribute); expected kind '{kind}'", path)
        if found != kind:
            raise FormatError(f"is a '{found}' file, expected '{kind}'", path)
        version = attrs.get("schema_version")
        if version != spec.version or isinstance(version, bool):
            raise FormatError(
                f"schema version {version!r} is not supported for '{kind}' (expected {spec.version})", path
            )
        arrays: dict[str, np.ndarray] = {}
        for name, ds in spec.datasets.items():
            node = h5_node(handle, name, path)
            if node is None:
                if ds.required:
                    raise FormatError(f"dataset '{name}' is missing", path)
                continue
            arrays[name] = _read_dataset(node, name, ds, path)
    data = H5Data(path=path, kind=kind, arrays=arrays, attrs=attrs)
    _validate(data)
    if dim is not None and "dim" in attrs and attrs["dim"] != int(dim):
        raise FormatError(f"dimension {attrs['dim']} does not match the expected {dim}", path)
    return data


UNREADABLE = "not a readable HDF5 file (truncated, corrupt or another format)"


def open_h5(path: Path, unreadable: str = UNREADABLE) -> Any:
    """`h5py.File(path, "r")`; FormatError(`unreadable`) when it is not a regular file (HDF5 would wait for a
    pipe's writer) or HDF5 cannot open it, and FormatError, before HDF5 reads anything, for a damaged global
    heap, whose walk would never end in HDF5 (see `h5heap`)."""
    import h5py

    from .h5heap import damaged_global_heap

    if not path.is_file():
        raise FormatError(unreadable, path)
    try:
        damaged = damaged_global_heap(path)
    except OSError:  # unreadable: h5py says so below
        damaged = None
    if damaged is not None:
        raise FormatError(
            f"not a readable HDF5 file (corrupt: the global heap collection at byte {damaged} is damaged)", path
        )
    try:
        return h5py.File(path, "r")
    except OSError:
        raise FormatError(unreadable, path) from None


def read_h5_strings(path: str | os.PathLike, kind: str, name: str) -> list[str]:
    """One string dataset of a pbr HDF5 file of `kind` (e.g. the image paths of a sticker index), read without
    the rest of the file; FormatError when the file is not of that kind or the dataset cannot be read
    (`read_h5` says why in detail)."""
    import h5py

    path = Path(path)
    try:
        with open_h5(path, f"not a readable '{kind}' file") as handle:
            if _plain(handle.attrs.get("kind")) != kind:
                raise ValueError(kind)
            node = handle[name]
            if not isinstance(node, h5py.Dataset) or h5py.check_string_dtype(node.dtype) is None:
                raise ValueError(name)
            return [str(value) for value in np.asarray(node.asstr()[()]).reshape(-1)]
    except (OSError, KeyError, RuntimeError, TypeError, ValueError, UnicodeDecodeError):
        raise FormatError(f"not a readable '{kind}' file", path) from None


def _read_dataset(node: Any, name: str, spec: Spec, path: Path) -> np.ndarray:
    """One dataset as the spec's dtype, its rank checked; FormatError when it is not a dataset of that type."""
    import h5py

    if not isinstance(node, h5py.Dataset):
        raise FormatError(f"'{name}' is not a dataset", path)
    with reading_h5(path, f"dataset '{name}'"):
        shape, dtype = node.shape, node.dtype
        holds_strings = h5py.check_string_dtype(dtype) is not None
    if len(shape) != spec.ndim:
        raise FormatError(f"dataset '{name}' has shape {shape}, expected {spec.ndim} dimension(s)", path)
    if spec.dtype == STR and not holds_strings:
        raise FormatError(f"dataset '{name}' must hold strings, it holds {dtype}", path)
    with reading_h5(path, f"dataset '{name}'"):
        raw = node.asstr()[()] if spec.dtype == STR else node[()]
    return np.asarray(raw, dtype=object) if spec.dtype == STR else _numeric(name, spec, np.asarray(raw), path)


@contextlib.contextmanager
def reading_h5(path: Path, what: str = "") -> Iterator[None]:
    """FormatError naming `path` (and `what`, a dataset) for whatever h5py raises in the block on a corrupt file.

    The block must hold h5py reads only, so that pbr's own errors and bugs pass through as they are.
    """
    try:
        yield
    except H5_ERRORS as exc:
        where = f"{what} cannot be read" if what else "not a readable HDF5 file"
        raise FormatError(f"{where} (corrupt: {_h5_reason(exc)})", path) from None


def _h5_reason(exc: Exception) -> str:
    """h5py's message, one line, without its "Unable to synchronously ..." frame: what HDF5 found wrong."""
    text = " ".join(str(exc.args[0] if isinstance(exc, KeyError) and exc.args else exc).split())
    frame = re.fullmatch(r"(?:Unable to|Can't|Error) [^(]*\((.+)\)", text)
    reason = frame.group(1) if frame else text or type(exc).__name__
    return reason if len(reason) <= 100 else reason[:97] + "..."


def read_h5_attrs(handle: Any, path: Path) -> dict[str, Any]:
    """The attributes of an open h5py file as plain Python values; FormatError when they cannot be read."""
    with reading_h5(path):
        raw = dict(handle.attrs.items())
    return {key: _plain(value) for key, value in raw.items()}


def h5_node(handle: Any, name: str, path: Path) -> Any:
    """The object `name` of an open h5py file, or None when there is none; FormatError when it cannot be read."""
    with reading_h5(path):
        return handle[name] if name in handle else None


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    return value
