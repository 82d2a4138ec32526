"""`TrainOptions.command_args` (the demo's printed `pbr train` line) asks `pbr train` for the same options."""

from __future__ import annotations

import dataclasses

import pytest

from pbr_cli import training
from pbr_cli.training import TrainOptions


def options_from_the_command(invoke, monkeypatch, args: list[str]) -> TrainOptions:
    """The TrainOptions `pbr train ARGS` hands to the library (run_training replaced: nothing is trained)."""
    seen = []
    monkeypatch.setattr(training, "run_training", lambda options, settings, resume: seen.append(options))
    result = invoke("train", *args)
    assert result.exit_code == 0, result.output
    return seen[0]


@pytest.mark.parametrize("negated", [False, True], ids=["set", "negated"])
def test_every_option_renders_as_the_flag_that_sets_it(invoke, monkeypatch, tmp_path, negated):
    values = {"str": "x", "int": 3, "float": 0.25}
    given = {}
    for option in dataclasses.fields(TrainOptions):
        if option.name == "compile":
            given[option.name] = "off" if negated else "on"
        elif option.name in ("intra", "inter"):
            given[option.name] = not negated
        elif option.default is False:
            given[option.name] = not negated
        elif option.name in ("txt", "loss", "ekd", "negatives", "phsm_emotion"):
            given[option.name] = {"txt": "gru", "loss": "itc", "ekd": "logits", "negatives": "random",
                                  "phsm_emotion": "student"}[option.name]
        else:
            given[option.name] = values[option.type.split(" ")[0]]
    given["out"] = str(tmp_path / "run")
    options = TrainOptions(**given)
    args = options.command_args()
    assert args[-2:] == ["--out", given["out"]]
    assert options_from_the_command(invoke, monkeypatch, args) == options


def test_defaults_render_as_no_option_but_the_configuration(invoke, monkeypatch):
    assert TrainOptions().command_args() == ["--config", "tiny"]
    assert options_from_the_command(invoke, monkeypatch, []) == TrainOptions()
