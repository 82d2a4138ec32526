"""A check of an HDF5 file's global heap before HDF5 reads it.

Variable-length strings (every pbr file's attributes, the path and id datasets) live in global heap
collections. HDF5 2.0 walks a collection's objects when it loads one, and a damaged object header can make
that walk stand still for ever: a free-space object of size 0 (or an object index zeroed so that it reads
as one) moves the walk by 0 bytes. `damaged_global_heap` walks every collection the same way, first, and
says which one would not end, so that a reader can refuse the file instead of hanging.
"""

from __future__ import annotations

import mmap
import struct
from pathlib import Path

SIGNATURE = b"\x89HDF\r\n\x1a\n"  # the superblock's, at byte 0 of a file without a user block
COLLECTION = b"GCOL\x01"  # a global heap collection's signature and version
HEADER = 16  # collection header: signature, version, 3 reserved bytes, size (8 bytes)
OBJECT_HEADER = 16  # object header: index (2), reference count (2), reserved (4), size (8)


def damaged_global_heap(path: str | Path) -> int | None:
    """The byte offset of a global heap collection whose object walk would not end, or None.

    Checked for files with 8-byte lengths and offsets (h5py's default; others are left to HDF5). A collection
    counts only when the file also holds its address (a vlen reference to it; addresses count from the
    superblock, after any user block), so bytes that merely look like a collection header inside data are
    never taken for a damaged heap. `path` must be a regular file (`features.open_h5` checks).
    """
    with open(path, "rb") as handle:
        try:
            buffer = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except ValueError:  # an empty file: nothing to walk (HDF5 refuses it)
            return None
    with buffer:
        base = _superblock(buffer)
        if base is None or _sizes(buffer, base) != (8, 8):
            return None
        start = base
        while (at := buffer.find(COLLECTION, start)) >= 0:
            start = at + 1
            if not _walk_ends(buffer, at) and buffer.find(struct.pack("<Q", at - base)) >= 0:
                return at
    return None


def _superblock(buffer: mmap.mmap) -> int | None:
    """Where the superblock is: byte 0, or after a user block (512, 1024, 2048, ... bytes), as HDF5 looks."""
    offset = 0
    while offset + 16 <= len(buffer):
        if buffer[offset : offset + 8] == SIGNATURE:
            return offset
        offset = 512 if offset == 0 else offset * 2
    return None


def _sizes(buffer: mmap.mmap, base: int) -> tuple[int, int] | None:
    """The superblock's sizes of offsets and of lengths (bytes 13-14 in versions 0 and 1, 9-10 in 2 and 3)."""
    version = buffer[base + 8]
    at = base + 13 if version in (0, 1) else base + 9 if version in (2, 3) else None
    return None if at is None else (buffer[at], buffer[at + 1])


def _walk_ends(buffer: mmap.mmap, at: int) -> bool:
    """True when the collection at `at` lies inside the file and its objects tile it without a step of 0.

    The walk is HDF5's: an object with index > 0 takes its header plus its size rounded up to 8 bytes; the
    free-space object (index 0) takes its size, header included; a tail shorter than an object header is
    free space.
    """
    if at + HEADER > len(buffer):
        return False
    (size,) = struct.unpack_from("<Q", buffer, at + 8)
    end = at + size
    if size < HEADER or end > len(buffer):
        return False
    cursor = at + HEADER
    while cursor + OBJECT_HEADER <= end:
        index, _, _, length = struct.unpack_from("<HHIQ", buffer, cursor)
        step = OBJECT_HEADER + (length + 7) // 8 * 8 if index else length
        if step == 0 or cursor + step > end:
            return False
        cursor += step
    return True
