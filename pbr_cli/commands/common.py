"""Option helpers shared by several commands: number checks and the output guard."""

from __future__ import annotations

import math

import click


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


def guard_outputs(*outputs: str, folders: tuple[str, ...] = ()):
    """Decorator for a command: refuse, before any work, an output option that would replace one of its inputs.

    `outputs` (and `folders`, the folder outputs) are parameter names; every other path parameter of the
    command is an input. New path options are therefore guarded without being listed.
    """
    import functools

    def decorate(function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            from ..io import refuse_overwriting_inputs

            command = click.get_current_context().command
            named, inputs, folder_flags = {}, [], []
            for param in command.params:
                if not isinstance(param.type, click.Path) or param.name not in kwargs:
                    continue
                if param.name in outputs or param.name in folders:
                    flag = max(param.opts, key=len) if param.opts else param.name
                    named[flag] = kwargs[param.name]
                    if param.name in folders:
                        folder_flags.append(flag)
                else:
                    inputs.append(kwargs[param.name])
            refuse_overwriting_inputs(named, inputs, tuple(folder_flags))
            return function(*args, **kwargs)

        return wrapper

    return decorate
