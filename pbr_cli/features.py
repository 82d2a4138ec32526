"""The HDF5 contract: one writer and one validating reader for every file kind pbr exchanges.

Every file carries the attributes `kind`, `schema_version`, `pbr_version`, `command` (the command
line that made it) and `created`, plus the kind's own attributes (hashes of the teacher or model it
came from, dimensions). Writes are atomic; reads check kind, schema version, datasets, shapes and
dimensions and raise `FormatError` naming the file.
"""

from __future__ import annotations

import datetime as _dt
import os
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from . import __version__
from .errors import FormatError
from .io import atomic_path

STR = "str"  # marker dtype for variable-length UTF-8 string datasets


@dataclass(frozen=True)
class Spec:
    """A dataset in a file kind: dtype, number of dimensions, and whether it must be present."""

    dtype: str
    ndim: int
    required: bool = True


@dataclass(frozen=True)
class Kind:
    """One file kind: its schema version, datasets (all sharing the first axis N) and required attrs."""

    name: str
    version: int
    datasets: Mapping[str, Spec]
    attrs: tuple[str, ...] = ()
    rows: str | None = "ids"  # dataset whose length defines N; None when datasets are not row-aligned


KINDS: dict[str, Kind] = {
    k.name: k
    for k in [
        Kind(
            "teacher_features", 1,
            {
                "ids": Spec(STR, 1),
                "features": Spec("float32", 2),        # (N, C_S) teacher pooled penultimate feature V^e
                "probs": Spec("float32", 2),           # (N, 7) teacher softmax over the emotion classes
                "labels": Spec("int64", 1, False),     # (N,) emotion index, -1 unknown
                "topics": Spec(STR, 1, False),
                "paths": Spec(STR, 1, False),
            },
            ("teacher_hash", "dim", "class_names"),
        ),
        Kind(
            "anchors", 1,
            {
                "anchors": Spec("float32", 2),         # (7*M, C_S) emotion-major centroids E^T
                "emotion": Spec("int64", 1),           # (7*M,) emotion index of each anchor
            },
            ("teacher_hash", "dim", "M", "class_names"),
            rows="anchors",
        ),
        Kind(
            "sentiment", 1,
            {
                "ids": Spec(STR, 1),
                "raw_pos": Spec("float64", 1),
                "raw_neg": Spec("float64", 1),
                "pos": Spec("float32", 1),
                "neg": Spec("float32", 1),
            },
            ("lexicon",),
        ),
        Kind(
            "sticker_index", 1,
            {
                "ids": Spec(STR, 1),
                "paths": Spec(STR, 1),
                "embeddings": Spec("float16", 2),      # (N, C) L2-normalised ITC embeddings
                "image_tokens": Spec("float16", 3, False),  # (N, L, C_V) image-tower tokens for ITM re-ranking
            },
            ("model_hash", "dim"),
        ),
        Kind(
            "scores", 1,
            {
                "ids": Spec(STR, 1),
                "scores": Spec("float32", 2),          # (N, n_candidates)
                "label": Spec("int64", 1),             # (N,) index of the ground truth in each row
                "candidate_ids": Spec(STR, 2, False),  # (N, n_candidates)
            },
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
        array = np.asarray(value, dtype=spec.dtype)
    if array.ndim != spec.ndim:
        raise FormatError(f"dataset '{name}' must have {spec.ndim} dimension(s), got shape {array.shape}", path)
    return array


def write_h5(path: str | os.PathLike, kind: str, arrays: Mapping[str, Any], attrs: Mapping[str, Any] | None = None) -> Path:
    """Validate `arrays` against the kind's schema and write them atomically to `path`."""
    import h5py

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
    _check_rows(spec, coerced, path)
    attrs = dict(attrs or {})
    missing = [a for a in spec.attrs if a not in attrs]
    if missing:
        raise FormatError(f"attribute(s) {', '.join(missing)} required for kind '{kind}'", path)
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
    """Read and validate a pbr HDF5 file of the given kind; `dim`, when given, must match its `dim` attr."""
    import h5py

    path = Path(path)
    spec = KINDS[kind]
    if not path.exists():
        raise FormatError("file not found", path)
    if not path.is_file():
        raise FormatError("not a file", path)
    try:
        handle = h5py.File(path, "r")
    except OSError:
        raise FormatError("not a readable HDF5 file (truncated, corrupt or another format)", path) from None
    with handle:
        attrs = {key: _plain(value) for key, value in handle.attrs.items()}
        found = attrs.get("kind")
        if found is None:
            raise FormatError(f"not a pbr file (no 'kind' attribute); expected kind '{kind}'", path)
        if found != kind:
            raise FormatError(f"is a '{found}' file, expected '{kind}'", path)
        version = attrs.get("schema_version")
        if version != spec.version:
            raise FormatError(f"schema version {version} is not supported for '{kind}' (expected {spec.version})", path)
        arrays: dict[str, np.ndarray] = {}
        for name, ds in spec.datasets.items():
            if name not in handle:
                if ds.required:
                    raise FormatError(f"dataset '{name}' is missing", path)
                continue
            node = handle[name]
            if not isinstance(node, h5py.Dataset):
                raise FormatError(f"'{name}' is not a dataset", path)
            try:
                if ds.dtype == STR:
                    array = node.asstr()[()] if node.shape != () else None
                    array = np.asarray(array, dtype=object)
                else:
                    array = np.asarray(node[()])
                    if array.dtype.kind not in "fiub":
                        raise FormatError(f"dataset '{name}' is not numeric", path)
                    array = array.astype(ds.dtype, copy=False)
            except (OSError, TypeError, ValueError) as exc:
                raise FormatError(f"dataset '{name}' cannot be read ({exc})", path) from None
            if array.ndim != ds.ndim:
                raise FormatError(f"dataset '{name}' has shape {array.shape}, expected {ds.ndim} dimension(s)", path)
            arrays[name] = array
    missing = [a for a in spec.attrs if a not in attrs]
    if missing:
        raise FormatError(f"attribute(s) {', '.join(missing)} missing", path)
    _check_rows(spec, arrays, path)
    if dim is not None and "dim" in attrs and int(attrs["dim"]) != int(dim):
        raise FormatError(f"dimension {attrs['dim']} does not match the expected {dim}", path)
    return H5Data(path=path, kind=kind, arrays=arrays, attrs=attrs)


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    return value
