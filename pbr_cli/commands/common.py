"""Option helpers shared by several commands: dataset resolution, run-config overrides, output checks."""

from __future__ import annotations

import math
from pathlib import Path

import click


def load_dataset(data: str | None):
    """The dataset at `data`, or the built-in demo dataset (built on first use)."""
    from ..data import open_dataset

    if data is None:
        from .. import console
        from ..demo.build import ensure_demo

        root = ensure_demo(seed=0)
        console.info(f"using the demo dataset at {root}")
        return open_dataset(root)
    return open_dataset(Path(data))


def positive_int(ctx, param, value):
    if value is not None and value < 1:
        raise click.BadParameter(f"must be at least 1, got {value}")
    return value


def non_negative_int(ctx, param, value):
    if value is not None and value < 0:
        raise click.BadParameter(f"must be at least 0, got {value}")
    return value


def positive_float(ctx, param, value):
    _refuse_non_finite(value)
    if value is not None and value <= 0:
        raise click.BadParameter(f"must be positive, got {value}")
    return value


def non_negative_float(ctx, param, value):
    _refuse_non_finite(value)
    if value is not None and value < 0:
        raise click.BadParameter(f"must be >= 0, got {value}")
    return value


def _refuse_non_finite(value: float | None) -> None:
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"must be a finite number, got {value}")
