import subprocess
import sys

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
