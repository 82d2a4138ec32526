"""Corrupt (not truncated) HDF5 files: four bytes overwritten at many offsets of a real file of every kind.

Every read either succeeds (the bytes were data) or raises a PbrError naming the file, never an h5py
exception, and never hangs (HDF5 2.0 walks a damaged global heap for ever; pbr checks the heap first); one
case goes through the CLI, asserting one `Error:` line and no traceback.
"""

from __future__ import annotations

import multiprocessing
import resource
import struct
import sys
from pathlib import Path

import numpy as np
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


def global_heap_headers(data: bytes) -> list[int]:
    """Offsets of the global heap's collection and object headers (16 bytes each; variable-length strings live
    there), the free-space object's last."""
    headers: list[int] = []
    start = 0
    while (at := data.find(b"GCOL", start)) >= 0:
        size = struct.unpack_from("<Q", data, at + 8)[0]
        headers.append(at)
        cursor = at + 16
        while cursor + 16 <= min(at + size, len(data)):
            index, _, _, length = struct.unpack_from("<HHIQ", data, cursor)
            headers.append(cursor)
            if index == 0:  # the free space: the collection's last object
                break
            cursor += 16 + (length + 7) // 8 * 8
        start = at + 4
    return headers


def heap_cases(data: bytes) -> list[tuple[int, bytes]]:
    """Each 4-byte field of every global heap header (index and count, reserved, size), with both fills: a zeroed
    index or free-space size is what made HDF5 2.0 walk a collection for ever."""
    return [(header + field, fill) for header in global_heap_headers(data) for field in (0, 4, 8, 12) for fill in FILLS]


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
    strided = [(offset, FILLS[step % 2]) for step, offset in enumerate(range(0, len(data) - 4, STRIDE))]
    cases, failures = 0, []
    for offset, fill in strided + heap_cases(data):
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
    path = folder / "c.h5"
    for offset in range(0, len(data) - 4, STRIDE):
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


def with_free_space_zeroed(source: Path, folder: Path) -> Path:
    """A copy of `source` whose first global heap collection's free-space object has size 0 (a step of 0 bytes)."""
    data = source.read_bytes()
    free_space = global_heap_headers(data)[-1] if data.count(b"GCOL") == 1 else None
    assert free_space is not None and struct.unpack_from("<H", data, free_space)[0] == 0
    path = folder / f"heap-{source.name}"
    path.write_bytes(data[: free_space + 8] + b"\x00" * 8 + data[free_space + 16 :])
    return path


def read_or_error(path: Path, kind: str) -> str:
    try:
        read(path, kind)
    except PbrError as error:
        return str(error)
    return "read"


@pytest.mark.skipif(sys.platform != "linux", reason="fork is Linux's")
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_damaged_global_heap_is_refused_before_hdf5_walks_it(valid_files, tmp_path, kind):
    """HDF5 2.0 never returns from a collection whose free space has size 0; pbr names the collection instead."""
    path = with_free_space_zeroed(valid_files[kind], tmp_path)
    with multiprocessing.get_context("fork").Pool(1) as pool:  # a hang fails the test instead of stopping it
        message = pool.apply_async(read_or_error, (path, kind)).get(timeout=60)
    at = path.read_bytes().find(b"GCOL")
    assert message == f"{path}: not a readable HDF5 file (corrupt: the global heap collection at byte {at} is damaged)"


def test_bytes_that_look_like_a_heap_inside_data_are_not_a_damaged_heap(tmp_path):
    """A string that holds a collection's signature and version followed by a size past the end of the file is
    data, not a collection: nothing in the file holds its address, so the file reads."""
    from test_sweep_h5 import valid_sticker_index

    arrays, attrs = valid_sticker_index()
    arrays = dict(arrays, paths=["img/GCOL\x01\x02\x03\x04" + "\x7f" * 8 + ".png", *arrays["paths"][1:]])
    path = write_h5(tmp_path / "index.h5", "sticker_index", arrays, attrs)
    assert path.read_bytes().count(b"GCOL\x01") == 2
    assert read_h5(path, "sticker_index").arrays["paths"][0] == arrays["paths"][0]


def test_a_command_refuses_a_damaged_heap_in_one_line(tmp_path):
    """Through the real CLI in a subprocess (a hang would be killed by the timeout): one line, exit 1."""
    import subprocess

    from test_sweep_h5 import VALID

    source = write_h5(tmp_path / "features.h5", "teacher_features", *VALID["teacher_features"]())
    damaged = with_free_space_zeroed(source, tmp_path)
    output = tmp_path / "anchors.h5"
    command = [
        sys.executable,
        "-m",
        "pbr_cli.cli",
        "build-anchors",
        "--features",
        str(damaged),
        "-M",
        "2",
        "-o",
        str(output),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"Error: {damaged}: not a readable HDF5 file (corrupt: the global heap collection at byte "
        f"{damaged.read_bytes().find(b'GCOL')} is damaged)"
    ]
    assert not output.exists()


@pytest.mark.parametrize("userblock", [0, 512, 2048])
def test_the_heap_check_finds_the_superblock_after_a_user_block(tmp_path, userblock):
    """Heap addresses count from the superblock, which a user block moves: the check finds a damaged heap (and
    passes a sound one) either way."""
    import h5py

    from pbr_cli.h5heap import damaged_global_heap

    path = tmp_path / "index.h5"
    with h5py.File(path, "w", **({"userblock_size": userblock} if userblock else {})) as handle:
        handle.create_dataset("paths", data=np.array(["a/b.png", "c/d.png"], dtype=object), dtype=h5py.string_dtype())
    assert damaged_global_heap(path) is None
    damaged = with_free_space_zeroed(path, tmp_path)
    assert damaged_global_heap(damaged) == damaged.read_bytes().find(b"GCOL") >= userblock


@pytest.mark.skipif(sys.platform != "linux", reason="named pipes are POSIX's")
def test_reading_one_dataset_refuses_a_pipe_at_once(tmp_path):
    """`read_h5_strings` (rank's look at an index's image folders) neither opens a pipe, which waits for a writer,
    nor a missing file."""
    import os

    from pbr_cli.features import read_h5_strings

    pipe = tmp_path / "index.h5"
    os.mkfifo(pipe)
    for path in (pipe, tmp_path / "missing.h5"):
        with pytest.raises(FormatError, match="not a readable 'sticker_index' file"):
            read_h5_strings(path, "sticker_index", "paths")
