import subprocess
import sys

import pytest

from helpers import assert_refused
from pbr_cli import __version__


def test_version(invoke):
    result = invoke("--version")
    assert result.exit_code == 0
    assert __version__ in result.output


def test_help_lists_commands_without_heavy_imports():
    proc = subprocess.run([sys.executable, "-m", "pbr_cli.cli", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "demo" in proc.stdout
    # heavy libraries must not be imported for --help
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from pbr_cli.cli import cli; "
            "cli(['--help'], standalone_mode=False); "
            "print(sorted(m for m in ('torch','timm','transformers','h5py','sklearn') if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
    )
    assert probe.stdout.strip().endswith("[]"), probe.stdout


def test_shared_options_offer_the_library_values_everywhere():
    import click

    from pbr_cli.cli import COMMANDS, cli
    from pbr_cli.commands.common import CHECKPOINTS, RERANK, SCORES
    from pbr_cli.index import DEFAULT_RERANK
    from pbr_cli.index import SCORES as LIBRARY_SCORES
    from pbr_cli.model.run import WEIGHTS
    from pbr_cli.ranking import RankOptions

    assert CHECKPOINTS == tuple(WEIGHTS)
    assert RERANK == DEFAULT_RERANK == RankOptions().rerank and SCORES == LIBRARY_SCORES
    offered = {"which": [], "score": []}
    for name in COMMANDS:
        for param in cli.get_command(click.Context(cli), name).params:
            if param.name in offered:
                offered[param.name].append((name, tuple(param.type.choices), param.default))
    assert {name for name, _, _ in offered["which"]} == {"embed", "evaluate", "rank", "serve"}
    assert {name for name, _, _ in offered["score"]} == {"evaluate", "rank"}
    assert {(choices, default) for _, choices, default in offered["which"]} == {(CHECKPOINTS, "best")}
    assert {(choices, default) for _, choices, default in offered["score"]} == {(SCORES, "itm")}
    reranks = {
        name: param.default
        for name in COMMANDS
        for param in cli.get_command(click.Context(cli), name).params
        if param.name == "rerank"
    }
    assert reranks == {"rank": RERANK, "serve": RERANK}


def float_options() -> list[tuple[str, str]]:
    """(command, option) of every option of every command that takes a float."""
    import click

    from pbr_cli.cli import COMMANDS, cli

    found = []
    for name in COMMANDS:
        for param in cli.get_command(click.Context(cli), name).params:
            if isinstance(param, click.Option) and isinstance(param.type, click.types.FloatParamType):
                found.append((name, max(param.opts, key=len)))
    return found


def test_every_float_option_is_checked_for_nan_and_infinity():
    import click

    from pbr_cli.cli import cli
    from pbr_cli.commands.common import FiniteFloatRange, non_negative_float, positive_float, unit_interval

    assert ("teacher-train", "--lr") in float_options() and ("train", "--lr") in float_options()
    for name, option in float_options():
        param = next(p for p in cli.get_command(click.Context(cli), name).params if option in p.opts)
        checked = isinstance(param.type, FiniteFloatRange) or param.callback in (
            positive_float,
            non_negative_float,
            unit_interval,
        )
        assert checked, f"{name} {option} lets NaN or infinity through"


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_nan_and_infinity_are_usage_errors_for_every_float_option(invoke, tmp_path, value):
    for name, option in float_options():
        result = invoke(name, option, value)
        assert result.exit_code == 2, (name, option, result.output)
        message = assert_refused(result, f"'{option}'", value)
        assert "must be a finite number" in message or "is not in the range" in message, message


@pytest.mark.parametrize(
    "args,needles",
    [
        (["train", "--no-such-option"], ["No such option '--no-such-option'", "Try 'pbr train --help'."]),
        (["train", "--steps", "x"], ["'--steps'", "'x' is not a valid integer", "Try 'pbr train --help'."]),
        (["no-such-command"], ["No such command 'no-such-command'", "Try 'pbr --help'."]),
        (["--seed", "-1", "demo"], ["'--seed'", "Try 'pbr --help'."]),
        (["rank", "--sheet", "a.png"], ["Missing argument 'DIALOGUE'", "Try 'pbr rank --help'."]),
        (["train", "--resume"], ["'--resume' requires an argument.", "Try 'pbr train --help'."]),
        (["--seed"], ["'--seed' requires an argument.", "Try 'pbr --help'."]),
        (["rank", "hello", "lib", "--teacher-features", "t.h5"], ["--teacher-features colours the sentiment bars"]),
    ],
)
def test_usage_errors_are_one_line(invoke, args, needles):
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert_refused(result, *needles)
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert "Usage:" not in result.output


def test_usage_error_is_one_line_on_stderr_and_bare_pbr_still_prints_help():
    proc = subprocess.run([sys.executable, "-m", "pbr_cli.cli", "train", "--nope"], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stdout == ""
    (line,) = proc.stderr.splitlines()
    assert line.startswith("Error: No such option '--nope'.") and line.endswith(" Try 'pbr train --help'."), line
    bare = subprocess.run([sys.executable, "-m", "pbr_cli.cli"], capture_output=True, text=True)
    assert "Commands:" in bare.stdout + bare.stderr
