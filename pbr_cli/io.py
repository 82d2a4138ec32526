"""Atomic output: write to a temporary file beside the target, fsync, rename into place."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path
from typing import Iterator

from .errors import OutputError


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_output_path(path: str | os.PathLike) -> Path:
    """Fail early, with the path in the message, when `path` cannot be written."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        file = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)
        if file is not None:  # e.g. -o notes.txt/out.h5
            raise OutputError("is a file, not a folder; the output cannot go inside it", file)
        raise OutputError("output folder does not exist", folder)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError("output folder is not writable", folder)
    if path.is_dir():
        raise OutputError("output path is a folder, expected a file", path)
    if path.exists() and not path.is_file():  # a rename onto a device or pipe would replace it with a file
        raise OutputError("output path is a device, pipe or socket, expected a file", path)
    return path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success fsync it and rename it onto `path`.

    On any exception the temporary file is removed and the target is left untouched.
    """
    target = check_output_path(path)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix + ".tmp", dir=target.parent)
    except OSError as exc:  # e.g. a folder that takes no new files (/proc), a read-only file system
        raise OutputError(f"cannot write here: {exc.strerror or exc}; nothing was written", target) from None
    os.close(fd)
    mode = 0o666 & ~current_umask()  # mkstemp makes 0600; outputs get the usual permissions
    os.chmod(tmp_name, mode)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, mode)  # again: some writers (safetensors) replace the file with their own 0600 one
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
        with contextlib.suppress(OSError):
            dir_fd = os.open(target.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.errno == errno.ENOSPC:
            raise OutputError("no space left on device; nothing was written", target) from exc
        raise OutputError(f"cannot write: {exc.strerror or exc}", target) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def _identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the file `path` leads to, following symlinks; None when there is none."""
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return None
    return info.st_dev, info.st_ino


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _replaceable_inside_input(path: Path) -> bool:
    """True for an earlier pbr HDF5 output (kind attribute), which may be replaced even inside a dataset folder."""
    import h5py

    from .errors import FormatError
    from .features import H5_ERRORS, open_h5

    if not path.is_file():  # h5py.is_hdf5 would wait on a pipe for a writer
        return False
    try:
        if not h5py.is_hdf5(path):
            return False
        with open_h5(path) as handle:
            return "kind" in handle.attrs
    except (FormatError, *H5_ERRORS):  # a file h5py cannot read (corrupt) is no earlier output
        return False


def refuse_overwriting_inputs(
    outputs: dict[str, str | os.PathLike | None],
    inputs: "list[str | os.PathLike | None]",
    folders: tuple[str, ...] = (),
    folder_files: "dict[str, tuple[str, ...]] | None" = None,
) -> None:
    """OutputError, before any work, when an output would replace one of the command's inputs.

    `outputs` maps the option a user typed (e.g. "-o") to its path; the names in `folders` are folder
    outputs, and `folder_files` names the files a folder output writes into its folder. Refused: an output
    that is an input file (the same file, also through a hard or symbolic link); a folder output that is an
    input folder or file; an existing file inside an input folder (a dataset's records and images), unless
    it is an earlier pbr HDF5 output — also one of the files a folder output writes; and two outputs that
    name the same file (the second would replace the first).
    """
    written: dict[str, str] = {}
    for option, given in outputs.items():
        if given is None:
            continue
        names = (
            [Path(given) / name for name in (folder_files or {}).get(option, ())]
            if option in folders
            else [Path(given)]
        )
        for name in names:
            other = written.setdefault(os.path.realpath(name), option)
            if other != option:
                raise OutputError(f"{other} and {option} name the same file; give each its own", name)
    files: dict[tuple[int, int], Path] = {}
    input_folders: list[tuple[str, str, Path]] = []
    for given in inputs:
        if given is None or os.fspath(given) in ("", "-"):
            continue
        path = Path(given)
        identity = _identity(path)
        if identity is None:
            continue
        if path.is_dir():
            input_folders.append((os.path.abspath(path), os.path.realpath(path), path))
        files[identity] = path
    for option, given in outputs.items():
        if given is None:
            continue
        out = Path(given)
        if option in folders:
            identity = _identity(out)
            if identity is not None and identity in files:
                raise OutputError(
                    f"{option} names the input {files[identity]}; it would be replaced — "
                    "choose another output; nothing was written",
                    out,
                )
            for name in (folder_files or {}).get(option, ()):
                _refuse_replacing(option, out / name, files, input_folders, f"{option} would replace")
        else:
            _refuse_replacing(option, out, files, input_folders, f"{option} names")


def _refuse_replacing(
    option: str,
    out: Path,
    files: dict[tuple[int, int], Path],
    input_folders: list[tuple[str, str, Path]],
    says: str,
) -> None:
    """OutputError when the file `out` is one of the input `files`, or an existing file inside an input folder."""
    identity = _identity(out)
    if identity is None:
        return
    if identity in files:
        raise OutputError(
            f"{option} names the input {files[identity]}; it would be replaced — "
            "choose another output; nothing was written",
            out,
        )
    lexical, real = os.path.abspath(out), os.path.realpath(out)
    for folder_abs, folder_real, folder in input_folders:
        if (_inside(lexical, folder_abs) or _inside(real, folder_real)) and not _replaceable_inside_input(out):
            raise OutputError(
                f"{says} an existing file inside the input folder {folder}, which the "
                "command reads; choose a new name or another folder; nothing was written",
                out,
            )
    hard = os.stat(out).st_nlink > 1
    for _, _, folder in input_folders:
        found = _link_in(folder, real, identity if hard else None)
        if found is None:
            continue
        kind, link = found
        if kind == "symbolic":
            says = f"{option} names {link}'s target, an input (a symbolic link in {folder})"
        else:
            says = f"{option} is a hard link to {link}, an input"
        raise OutputError(f"{says}; it would be replaced — choose another output; nothing was written", out)


def _link_in(folder: Path, real: str, identity: tuple[int, int] | None) -> tuple[str, Path] | None:
    """("symbolic", link) for a symbolic link in `folder` whose target is the file `real` (a dataset's split file
    linked from elsewhere), ("hard", file) for a file of the same `identity` (given only when the output has
    several names), or None. Links are looked for within 3 levels (where dataset files are), hard links at
    every level; only links are resolved, so a large library costs one scan."""
    pending = [(Path(folder), 1)]
    while pending:
        where, level = pending.pop()
        try:
            entries = list(os.scandir(where))
        except OSError:
            continue
        for entry in entries:
            if entry.is_symlink():
                if os.path.realpath(entry.path) == real:
                    return "symbolic", Path(entry.path)
            elif entry.is_dir(follow_symlinks=False):
                if level < 3 or identity is not None:
                    pending.append((Path(entry.path), level + 1))
            elif identity is not None and _identity(Path(entry.path)) == identity:
                return "hard", Path(entry.path)
    return None


class Busy(OutputError):
    """Another process holds the lock of an output."""


@contextlib.contextmanager
def exclusive_lock(path: str | os.PathLike, what: str) -> Iterator[None]:
    """Hold an advisory lock on the file `path` (created, and removed on release) for the `with` block.

    The kernel releases the lock when its process ends, however it ends, so a lock file left by a killed
    process is stale and is simply taken over. Busy (naming `what` and the holder's pid) when it is held.
    """
    import fcntl

    path = Path(path)
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise OutputError(f"cannot create the lock file {path.name}: {exc.strerror or exc}", path.parent) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            try:
                holder = os.read(fd, 32).decode("ascii", "replace").strip() or "?"
            finally:
                os.close(fd)
            raise Busy(
                f"another pbr process (pid {holder}) is writing this {what}; wait for it to end or "
                "choose another output",
                path.parent / path.name.removeprefix(".").removesuffix(".lock"),
            ) from None
        same = _identity(path) == (os.fstat(fd).st_dev, os.fstat(fd).st_ino)
        if same:
            break
        os.close(fd)  # the file was removed by the process that held it; lock the new one
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
        os.close(fd)
