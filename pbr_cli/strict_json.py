"""Strict JSON: the one encoder of every JSON text pbr prints or writes, so NaN and Infinity never get out.

`json.dumps` writes NaN and Infinity by default, which are not JSON: strict parsers (jq, JavaScript,
`json.loads(..., parse_constant=...)`) refuse the whole output. Here a non-finite number is an
`OutputError` naming the key that holds it.

Per field: no value pbr reports is legitimately NaN. A value that can be missing is None (null) where
it is made — a teacher report's accuracy on an empty split, `best_val_map` of a run without a
validation split, a plot summary's sticker polarity source — so the encoder never turns NaN into null:
a NaN reaching it is a failure upstream (a model or an input that should have been refused), and
hiding it as "missing" would report a broken result as a good one.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

from .errors import OutputError


def non_finite_key(value: Any, key: str = "") -> tuple[str, float] | None:
    """(dotted key, value) of the first NaN or infinite number in nested dicts, lists and tuples; None if none."""
    if isinstance(value, float):
        return None if math.isfinite(value) else (key or "(the value itself)", value)
    if isinstance(value, dict):
        items = ((f"{key}.{name}" if key else str(name), item) for name, item in value.items())
    elif isinstance(value, (list, tuple)):
        items = ((f"{key}.{index}" if key else str(index), item) for index, item in enumerate(value))
    else:
        return None
    for item_key, item in items:
        found = non_finite_key(item, item_key)
        if found is not None:
            return found
    return None


def dumps(value: Any, what: str = "the result", path: str | os.PathLike | None = None, **options: Any) -> str:
    """`json.dumps(value, ensure_ascii=False, allow_nan=False, **options)`.

    A NaN or infinite number is an OutputError: "cannot write {what} as JSON: 'key' is nan ..." (with
    `path`, the file that was to hold it, in front).
    """
    options = {"ensure_ascii": False, **options}
    try:
        return json.dumps(value, allow_nan=False, **options)
    except ValueError:
        found = non_finite_key(value)
        if found is None:
            raise
        key, number = found
        raise OutputError(
            f"cannot write {what} as JSON: '{key}' is {number}, and JSON has no NaN or Infinity", path
        ) from None
