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

    Checked for files with the superblock at byte 0 and 8-byte lengths (h5py's default; others are left
    to HDF5). A collection counts only when the file also holds its address (a vlen reference to it), so
    bytes that merely look like a collection header inside data are never taken for a damaged heap.
    """
    with open(path, "rb") as handle:
        try:
            buffer = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except ValueError:  # an empty file: nothing to walk (HDF5 refuses it)
            return None
    with buffer:
        if buffer[:8] != SIGNATURE or _length_size(buffer) != 8:
            return None
        start = 0
        while (at := buffer.find(COLLECTION, start)) >= 0:
            start = at + 1
            if not _walk_ends(buffer, at) and buffer.find(struct.pack("<Q", at)) >= 0:
                return at
    return None


def _length_size(buffer: mmap.mmap) -> int | None:
    """The superblock's "size of lengths" field (byte 14 in versions 0 and 1, byte 10 in 2 and 3)."""
    if len(buffer) < 16:
        return None
    version = buffer[8]
    return buffer[14] if version in (0, 1) else buffer[10] if version in (2, 3) else None


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
