"""Writing a run folder safely: one writer at a time, and no half-made folder left by a run that fails early.

A new run is written into a hidden staging folder beside its final name and renamed into place when its
first checkpoint exists; a run that fails before then leaves nothing behind. The final name is locked for
the whole run (and for `--resume`), so a second `pbr train -o SAME` is refused instead of mixing two runs.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from .errors import OutputError
from .io import current_umask, exclusive_lock

# what a run folder holds before its first checkpoint; a folder of only these is an unfinished start
_START_FILES = frozenset({"config.json", "run.json", "tokenizer.json", "metrics.jsonl", "learning_curves.png"})
_STAGING_SUFFIX = ".partial"
_RANDOM_LENGTH = 8  # tempfile.mkdtemp's random part


def _lock_path(final: Path) -> Path:
    return final.parent / f".{final.name}.lock"


def is_unfinished_start(folder: Path) -> bool:
    """True for a folder an interrupted start of an older pbr left: run files, but no checkpoint of any kind."""
    names = {entry.name for entry in folder.iterdir()}
    return "config.json" in names and names <= _START_FILES


def check_not_busy(final: Path) -> None:
    """Busy when another process holds the run folder's lock (a lock file alone is stale and ignored)."""
    if _lock_path(final).exists():
        with exclusive_lock(_lock_path(final), "run folder"):
            pass


def check_new_run_dir(final: Path) -> None:
    """OutputError unless `final` can become a new run folder (absent, empty, or an unfinished start)."""
    check_not_busy(final)
    _check_folder(final)


def _check_folder(final: Path) -> None:
    if final.exists() or final.is_symlink():
        if not final.is_dir():
            raise OutputError("exists and is not a folder; choose another -o", final)
        if (final / "config.json").exists() and not is_unfinished_start(final):
            raise OutputError("a run already exists in this folder; choose another -o (or --resume it)", final)
        if any(final.iterdir()) and not is_unfinished_start(final):
            raise OutputError("folder exists and is not empty; choose another -o", final)
    parent = final.parent if str(final.parent) else Path(".")
    if parent.exists() and not parent.is_dir():
        raise OutputError("output parent is not a folder", parent)


class NewRun:
    """A run being created: `path` is where its files go now (staging, then the final folder)."""

    def __init__(self, final: Path, staging: Path):
        self.final, self.path = final, staging
        self.published = False

    def publish(self) -> Path:
        """Rename the staging folder onto the final name (once); returns the final folder."""
        if self.published:
            return self.final
        if self.final.exists():  # empty, or an unfinished start of an older version (checked under the lock)
            shutil.rmtree(self.final)
        try:
            os.rename(self.path, self.final)
        except OSError as exc:
            raise OutputError(f"cannot move the run into place: {exc.strerror or exc}", self.final) from None
        self.path, self.published = self.final, True
        return self.final


def _is_staging_of(entry: str, name: str) -> bool:
    """True when `entry` is a staging folder of the run `name`: `.NAME.` + mkdtemp's 8 random characters."""
    middle = entry.removeprefix(f".{name}.").removesuffix(_STAGING_SUFFIX)
    return (
        entry.startswith(f".{name}.")
        and entry.endswith(_STAGING_SUFFIX)
        and len(middle) == _RANDOM_LENGTH
        and "." not in middle
    )


def is_taken(final: Path) -> bool:
    """True when `final` exists or another process is starting a run there (its lock is held)."""
    if final.exists() or final.is_symlink():
        return True
    try:
        check_not_busy(final)
    except OutputError:
        return True
    return False


@contextlib.contextmanager
def new_run_dir(final: str | os.PathLike) -> Iterator[NewRun]:
    """Lock `final`, yield a NewRun writing into a fresh staging folder; on failure before publish remove it."""
    final = Path(final)
    check_new_run_dir(final)
    parent = final.parent if str(final.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the run folder: {exc.strerror or exc}", final) from None
    with exclusive_lock(_lock_path(final), "run folder"):
        _check_folder(final)  # again, now that no other process can be creating it
        for stale in parent.glob(f".{final.name}.*{_STAGING_SUFFIX}"):
            if _is_staging_of(stale.name, final.name):  # not `.NAME.other.xxxxxxxx.partial` of run NAME.other
                shutil.rmtree(stale, ignore_errors=True)  # left by a killed run of this name
        try:
            staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=_STAGING_SUFFIX, dir=parent))
            os.chmod(staging, 0o777 & ~current_umask())
        except OSError as exc:
            raise OutputError(f"cannot create the run folder: {exc.strerror or exc}", final) from None
        run = NewRun(final, staging)
        try:
            yield run
        except OutputError as exc:  # name the file the user asked for, not its staging copy
            if run.published or exc.path is None or not exc.path.startswith(str(staging)):
                raise
            raise OutputError(exc.message, final / os.path.relpath(exc.path, staging)) from None
        finally:
            if not run.published:
                shutil.rmtree(staging, ignore_errors=True)


@contextlib.contextmanager
def existing_run_dir(folder: str | os.PathLike) -> Iterator[Path]:
    """Lock an existing run folder (for --resume) for the `with` block."""
    folder = Path(folder)
    with exclusive_lock(_lock_path(folder), "run folder"):
        yield folder
