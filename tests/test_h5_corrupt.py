"""Corrupt (not truncated) HDF5 files: four bytes overwritten at many offsets of a real file of every kind.

Every read either succeeds (the bytes were data) or raises a PbrError naming the file, never an h5py
exception; one case goes through the CLI, asserting one `Error:` line and no traceback.
"""

from __future__ import annotations

import multiprocessing
import resource
import struct
import sys
from pathlib import Path

import pytest
from test_sweep_h5 import VALID

from helpers import assert_refused
from pbr_cli.errors import FormatError, PbrError
from pbr_cli.features import KINDS, read_h5, write_h5
from pbr_cli.scores import read_scores

STRIDE = 16  # every 16th offset of the file
FILLS = (b"\xff" * 4, b"\x00" * 4)  # alternating from one offset to the next


@pytest.fixture(scope="module")
def valid_files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("corrupt-h5")
    with pytest.MonkeyPatch.context() as patch:  # the same bytes whatever pytest's command line
        patch.setattr("pbr_cli.features.command_line", lambda: "pbr test")
        return {kind: write_h5(folder / f"{kind}.h5", kind, *make()) for kind, make in VALID.items()}


def global_heap_headers(data: bytes) -> set[int]:
    """Offsets of the global heap's collection and object headers (where variable-length strings live).

    HDF5 2.0 loops forever on some values there (a zeroed object index), so the sweep leaves them alone.
    """
    offsets: set[int] = set()
    start = 0
    while (at := data.find(b"GCOL", start)) >= 0:
        size = struct.unpack_from("<Q", data, at + 8)[0]
        offsets.update(range(at, at + 16))
        cursor = at + 16
        while cursor + 16 <= min(at + size, len(data)):
            index, _, _, length = struct.unpack_from("<HHIQ", data, cursor)
            offsets.update(range(cursor, cursor + 16))
            if index == 0:  # the free space: the collection's last object
                break
            cursor += 16 + (length + 7) // 8 * 8
        start = at + 4
    return offsets


def read(path: Path, kind: str) -> None:
    read_h5(path, kind)
    if kind == "scores":
        read_scores(path)


def sweep(kind: str, source: Path, folder: Path) -> tuple[int, list[str]]:
    """(cases, failures): every failure an exception other than PbrError, with its offset and fill."""
    # HDF5 allocates what a corrupt size field says (4 GiB for 0xffffffff): a limit makes that fail at once
    current = int(Path("/proc/self/statm").read_text().split()[0]) * resource.getpagesize()
    resource.setrlimit(resource.RLIMIT_AS, (current + 2**30, resource.RLIM_INFINITY))
    data = source.read_bytes()
    skipped = global_heap_headers(data)
    cases, failures = 0, []
    for step, offset in enumerate(range(0, len(data) - 4, STRIDE)):
        if skipped.intersection(range(offset, offset + 4)):
            continue
        fill = FILLS[step % 2]
        path = folder / f"{kind}-{offset}.h5"
        path.write_bytes(data[:offset] + fill + data[offset + 4 :])
        cases += 1
        try:
            read(path, kind)
        except PbrError as error:
            if not str(error).startswith(f"{path}: ") or "\n" in str(error):
                failures.append(f"{offset} {fill[:1]!r}: message {error}")
        except Exception as error:  # noqa: BLE001 - the point of the test
            failures.append(f"{offset} {fill[:1]!r}: {type(error).__name__}: {error}")
        path.unlink()
    return cases, failures


@pytest.mark.skipif(sys.platform != "linux", reason="the address-space limit and fork are Linux's")
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_corrupt_file_is_read_or_refused_with_a_pbr_error(valid_files, tmp_path, kind):
    with multiprocessing.get_context("fork").Pool(1) as pool:  # the memory limit stays in the worker
        cases, failures = pool.apply_async(sweep, (kind, valid_files[kind], tmp_path)).get(timeout=120)
    assert cases > 100
    assert failures == [], "\n".join(failures)


def first_corrupt(source: Path, folder: Path) -> Path:
    """A copy of `source` with four bytes of 0xff where they make the file unreadable (not merely wrong)."""
    data = source.read_bytes()
    skipped = global_heap_headers(data)
    path = folder / "c.h5"
    for offset in range(0, len(data) - 4, STRIDE):
        if skipped.intersection(range(offset, offset + 4)):
            continue
        path.write_bytes(data[:offset] + b"\xff" * 4 + data[offset + 4 :])
        try:
            read_h5(path, "teacher_features")
        except FormatError as error:
            if "not a readable HDF5 file (corrupt: " in str(error):
                return path
    raise AssertionError("no offset makes the file unreadable")


def test_build_anchors_refuses_a_corrupt_features_file(invoke, valid_files, tmp_path):
    corrupt = first_corrupt(valid_files["teacher_features"], tmp_path)
    before = corrupt.read_bytes()
    output = tmp_path / "a.h5"
    result = invoke("build-anchors", "--features", corrupt, "-M", 2, "-o", output)
    assert_refused(result, f"{corrupt}: not a readable HDF5 file (corrupt: ", not_written=(output,), folder=tmp_path)
    assert corrupt.read_bytes() == before
