"""The `pbr` Click group: global options, lazy command registration, one-line errors. No logic."""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass

import click

from . import __version__

# name -> "module:function"; a command is listed here only once it works.
COMMANDS: dict[str, str] = {
    "demo": "pbr_cli.commands.demo:demo",
    "train": "pbr_cli.commands.train:train",
    "evaluate": "pbr_cli.commands.evaluate:evaluate",
    "rank": "pbr_cli.commands.rank:rank",
    "score-sentiment": "pbr_cli.commands.score_sentiment:score_sentiment",
    "teacher-train": "pbr_cli.commands.teacher_train:teacher_train",
    "embed": "pbr_cli.commands.embed:embed",
    "serve": "pbr_cli.commands.serve:serve",
    "build-anchors": "pbr_cli.commands.build_anchors:build_anchors",
}

COMMAND_KEY = "pbr.command"  # ctx.meta: the name of the command being run, for the help hint of a usage error
SEED_MAX = 2**31 - 1  # numpy and scikit-learn take seeds below 2**32, and seeds derived as seed + i stay below it


@dataclass
class Settings:
    """Global options, available to every command as `ctx.obj`."""

    device: str = "auto"  # auto | cpu | cuda
    seed: int = 0
    verbosity: int = 0  # -1 quiet, 0 normal, 1+ verbose
    deterministic: bool = False  # only deterministic kernels (see runtime.deterministic_algorithms)

    def torch_device(self):
        from .runtime import resolve_device

        return resolve_device(self.device)


class PbrGroup(click.Group):
    """Loads command modules on demand (so `pbr --help` stays instant) and turns typed errors into one line."""

    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        target = COMMANDS.get(name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        return getattr(importlib.import_module(module_name), attr)

    def resolve_command(self, ctx, args):
        name, command, rest = super().resolve_command(ctx, args)
        ctx.meta[COMMAND_KEY] = name
        return name, command, rest

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as exc:
            raise _one_line(exc, info_name) from None

    def invoke(self, ctx):
        from .errors import PbrError

        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            name = ctx.meta.get(COMMAND_KEY)  # errors of the parser come without the command's context
            raise _one_line(exc, f"{ctx.command_path} {name}" if name else None) from None
        except PbrError as exc:
            if _verbosity(ctx) > 0:
                raise
            if not exc.is_failure:
                click.echo(str(exc), err=True)
                sys.exit(exc.exit_code)
            error = click.ClickException(str(exc))
            error.exit_code = exc.exit_code
            raise error from None
        except KeyboardInterrupt:
            click.echo("Aborted.", err=True)
            sys.exit(130)
        finally:
            from .runtime import close_distributed

            close_distributed()


class OneLineUsageError(click.UsageError):
    """A usage error shown as one line (message and where the help is) instead of Click's usage block."""

    command_path: str | None = None  # whose --help the message points to

    def show(self, file=None) -> None:
        message = " ".join(self.format_message().split())
        if self.command_path:
            if not message.endswith((".", "?", ")")):
                message += "."
            message += f" Try '{self.command_path} --help'."
        click.echo(f"Error: {message}", file=file, err=True)


def _one_line(exc: click.UsageError, command_path: str | None = None) -> click.UsageError:
    """The same error shown on one line; the help that `pbr` alone prints stays as it is."""
    if isinstance(exc, (OneLineUsageError, click.exceptions.NoArgsIsHelpError)):
        return exc
    error = OneLineUsageError(exc.format_message(), ctx=exc.ctx)
    error.exit_code = exc.exit_code
    error.command_path = exc.ctx.command_path if exc.ctx is not None else command_path
    return error


def _verbosity(ctx) -> int:
    obj = ctx.find_object(Settings)
    return obj.verbosity if obj else 0


@click.group(
    cls=PbrGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100, "terminal_width": 100},
)
@click.version_option(__version__, "--version", prog_name="pbr")
@click.option(
    "--device",
    type=click.Choice(["auto", "cpu", "cuda"]),
    default="auto",
    show_default=True,
    envvar="PBR_DEVICE",
    show_envvar=True,
    help="Where models run: auto picks CUDA when available.",
)
@click.option(
    "--seed",
    type=click.IntRange(0, SEED_MAX),
    default=0,
    show_default=True,
    help="Random seed for everything that draws.",
)
@click.option(
    "--deterministic",
    is_flag=True,
    envvar="PBR_DETERMINISTIC",
    show_envvar=True,
    help="Only deterministic kernels, so that a command run twice on one machine with one --seed gives the "
    "same numbers to the bit (with several CPU threads training otherwise differs by float order from run to "
    "run; ~6% slower there). `pbr demo` always runs so.",
)
@click.option("-v", "--verbose", count=True, help="More output; show tracebacks on errors.")
@click.option("-q", "--quiet", is_flag=True, help="Only results and errors.")
@click.pass_context
def cli(ctx, device, seed, deterministic, verbose, quiet):
    """Sticker response selection: rank candidate stickers for a chat, Perceive-before-Respond style.

    A pipeline of independent steps that hand HDF5 files to each other:
    teacher-train -> build-anchors, score-sentiment, embed -> train -> evaluate / rank.
    With no dataset named, commands use the built-in synthetic demo dataset.
    """
    from . import console

    level = -1 if quiet else verbose
    console.set_verbosity(level)
    ctx.obj = Settings(device=device, seed=seed, verbosity=level, deterministic=deterministic)
    if deterministic:
        from .runtime import deterministic_algorithms

        ctx.with_resource(deterministic_algorithms())
    if level <= 0:
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def main() -> None:
    cli(prog_name="pbr")


if __name__ == "__main__":
    main()
