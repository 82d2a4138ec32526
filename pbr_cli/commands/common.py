"""Option helpers shared by several commands: the options several commands offer, number checks and the output
guard."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Callable, Iterable

import click

CHECKPOINTS = ("best", "last")  # the weights of a run folder: model.run.WEIGHTS (here, so --help imports no torch)
RERANK = 32  # how many ITC best stickers ITM re-ranks: index.DEFAULT_RERANK (here, so --help imports no torch)
SCORES = ("itm", "itc")  # what ranks candidates: index.SCORES (here, so --help imports no torch)


def given_options(ctx: click.Context, names: Iterable[str]) -> list[str]:
    """The long spelling (`--no-tokens`) of each parameter of `names` that the user gave, in `names` order."""
    spelled = {param.name: max(param.opts, key=len) for param in ctx.command.params if param.opts}
    defaults = (click.core.ParameterSource.DEFAULT, click.core.ParameterSource.DEFAULT_MAP)
    return [spelled[name] for name in names if ctx.get_parameter_source(name) not in defaults]


def which_option(help: str | None = None):
    """`--which best|last`: which checkpoint of a run folder."""
    return click.option("--which", type=click.Choice(CHECKPOINTS), default="best", show_default=True, help=help)


def score_option(help: str | None = None):
    """`--score itm|itc`: the ranking score."""
    return click.option("--score", type=click.Choice(SCORES), default="itm", show_default=True, help=help)


def rerank_option(help: str):
    """`--rerank K`: ITM re-ranks the ITC top K (a positive integer)."""
    return click.option("--rerank", type=int, default=RERANK, show_default=True, callback=positive_int, help=help)


def output_option(default: str | None, help: str):
    """`-o/--output FILE`: the file a command writes (a Path; the default shown in --help when there is one)."""
    return click.option(
        "-o",
        "--output",
        type=click.Path(path_type=Path, dir_okay=False),
        default=default,
        show_default=default is not None,
        help=help,
    )


def file_option(*names: str, help: str):
    """An optional file (a str path) with no default: `--sheet`, `--html`, ..."""
    return click.option(*names, type=click.Path(dir_okay=False), default=None, help=help)


def json_option(help: str):
    """`--json`: print the result as JSON instead of a table (the parameter `as_json`)."""
    return click.option("--json", "as_json", is_flag=True, help=help)


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


def unit_interval(ctx, param, value):
    """A float in [0, 1), e.g. a decay."""
    _refuse_non_finite(value)
    if value is not None and not 0 <= value < 1:
        raise click.BadParameter(f"must be in [0, 1), got {value}")
    return value


def _refuse_non_finite(value: float | None) -> None:
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"must be a finite number, got {value}")


class FiniteFloatRange(click.FloatRange):
    """click.FloatRange that refuses NaN and infinity too (FloatRange lets NaN through any bound, and +inf
    through a lower one)."""

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        try:
            _refuse_non_finite(number)
        except click.BadParameter as error:
            self.fail(error.message, param, ctx)
        return number


def guard_outputs(
    *outputs: str,
    folders: tuple[str, ...] = (),
    folder_files: Callable[[], dict[str, tuple[str, ...]]] | None = None,
    implied: Callable[[dict[str, Any]], Iterable[str | os.PathLike | None]] | None = None,
    defaults: Callable[[dict[str, Any]], dict[str, str | os.PathLike | None]] | None = None,
):
    """Decorator for a command: refuse, before any work, an output option that would replace one of its inputs.

    `outputs` (and `folders`, the folder outputs) are parameter names; every other path parameter of the
    command is an input. New path options are therefore guarded without being listed. `folder_files()`
    maps a folder output to the names of the files it writes there. `implied(kwargs)` yields the inputs
    the command reads without their being named (the run folder it picks, the dataset a run was trained
    on, the images of a sticker index, ...), resolved by the code the command resolves them with; a
    PbrError while resolving them ends the list (the command reports it itself, in its place).
    `defaults(kwargs)` gives the file an output option left unset writes when the command picks it later.
    """
    import functools

    def decorate(function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            from ..io import refuse_overwriting_inputs

            command = click.get_current_context().command
            named, inputs, folder_flags, files = {}, [], [], {}
            wanted = folder_files is not None and any(kwargs.get(name) is not None for name in folders)
            written = folder_files() if wanted else {}
            for param in command.params:
                if not isinstance(param.type, click.Path) or param.name not in kwargs:
                    continue
                if param.name in outputs or param.name in folders:
                    flag = max(param.opts, key=len) if param.opts else param.name
                    value = kwargs[param.name]
                    if value is None and defaults is not None:
                        value = defaults(kwargs).get(param.name)
                        flag = f"{flag} (default {value})" if value is not None else flag
                    named[flag] = value
                    if param.name in folders:
                        folder_flags.append(flag)
                        files[flag] = written.get(param.name, ())
                else:
                    inputs.append(kwargs[param.name])
            if implied is not None and any(value is not None for value in named.values()):
                inputs.extend(collect_implied(implied, kwargs))
            refuse_overwriting_inputs(named, inputs, tuple(folder_flags), files)
            return function(*args, **kwargs)

        return wrapper

    return decorate


def collect_implied(
    implied: Callable[[dict[str, Any]], Iterable[str | os.PathLike | None]], kwargs: dict[str, Any]
) -> list[str | os.PathLike | None]:
    """The inputs `implied(kwargs)` yields, up to the first PbrError (which the command reports in its place)."""
    from ..errors import PbrError

    found: list[str | os.PathLike | None] = []
    try:
        for path in implied(kwargs):
            found.append(path)
    except PbrError:
        pass
    return found
