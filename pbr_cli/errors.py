"""Typed errors: every library failure the CLI turns into a one-line message."""

from __future__ import annotations

import os


class PbrError(Exception):
    """Base class: a problem the user can fix, reported as one line without a traceback."""

    exit_code = 1  # the CLI's exit status for this error
    is_failure = True  # False: a clean stop (e.g. an interrupt that saved a checkpoint), no "Error:" prefix

    def __init__(self, message: str, path: str | os.PathLike | None = None):
        self.path = None if path is None else os.fspath(path)
        self.message = message
        super().__init__(f"{self.path}: {message}" if self.path else message)

    def __reduce__(self):
        # pickled as they are (an error raised in a worker process reaches the parent whole), whatever the
        # arguments of the subclass's constructor
        return _rebuild, (type(self), self.args, self.__dict__)


def _rebuild(cls: type, args: tuple, state: dict) -> PbrError:
    error = Exception.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class DataError(PbrError):
    """A dataset file, record or image is missing, malformed or inconsistent."""


class FormatError(PbrError):
    """An HDF5 or checkpoint file is of the wrong kind, schema, dimension or provenance."""


class ConfigError(PbrError):
    """An option or configuration value makes no sense."""


class OutputError(PbrError):
    """An output cannot be written (missing or read-only folder, full disk)."""


class TrainingError(PbrError):
    """Training cannot go on (a loss became NaN or infinite); the last good checkpoint is kept."""


class TrainingInterrupted(PbrError):
    """SIGINT / SIGTERM during training: a checkpoint was saved and the run can be resumed."""

    exit_code = 130
    is_failure = False

    def __init__(self, step: int, run_dir: str | os.PathLike, signal_name: str):
        self.step, self.run_dir = step, run_dir
        super().__init__(
            f"{signal_name} received: checkpoint saved at step {step}; continue with `pbr train --resume {run_dir}`"
        )


class NonFiniteLoss(TrainingError):
    """A loss term became NaN or infinite; the last good checkpoint is kept."""
