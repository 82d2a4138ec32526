"""`TrainOptions.command_args` (the demo's printed `pbr train` line) asks `pbr train` for the same options."""

from __future__ import annotations

import dataclasses

import pytest

from pbr_cli import training
from pbr_cli.model.config import RULES
from pbr_cli.training import INPUT_PATHS, OVERRIDES, TrainOptions


def options_from_the_command(invoke, monkeypatch, args: list[str]) -> TrainOptions:
    """The TrainOptions `pbr train ARGS` hands to the library (run_training replaced: nothing is trained)."""
    seen = []
    monkeypatch.setattr(training, "run_training", lambda options, settings, resume: seen.append(options))
    result = invoke("train", *args)
    assert result.exit_code == 0, result.output
    return seen[0]


def a_value(option: dataclasses.Field, negated: bool, existing: str):
    """A value `pbr train` can be asked for, other than the default (a flag's negation when `negated`); input
    files and folders are the file `existing`."""
    if option.name in INPUT_PATHS:
        return existing
    if option.name == "compile":
        return "off" if negated else "on"
    if option.name in OVERRIDES:
        rule = RULES[OVERRIDES[option.name]]
        return {"int": 3, "float": 0.25}.get(rule.kind, rule.choices[-1] if rule.choices else "x")
    if option.default is False or option.name in ("intra", "inter"):
        return not negated if option.default is None else True
    return "x"


@pytest.mark.parametrize("negated", [False, True], ids=["set", "negated"])
def test_every_option_renders_as_the_flag_that_sets_it(invoke, monkeypatch, tmp_path, negated):
    (tmp_path / "x").write_text("x", encoding="utf-8")
    given = {option.name: a_value(option, negated, str(tmp_path / "x")) for option in dataclasses.fields(TrainOptions)}
    given["out"] = str(tmp_path / "run")
    options = TrainOptions(**given)
    args = options.command_args()
    assert args[-2:] == ["--out", given["out"]]
    assert options_from_the_command(invoke, monkeypatch, args) == options


def test_each_option_of_a_configuration_key_is_a_field_named_by_its_rule():
    from pbr_cli.commands.train import train

    parameters = {param.name for param in train.params} - {"resume", "as_json"}
    assert parameters == {option.name for option in dataclasses.fields(TrainOptions)}
    assert OVERRIDES["batch_size"] == "train.batch_size" and OVERRIDES["temp"] == "model.temp"
    assert set(OVERRIDES.values()) == {key for key, rule in RULES.items() if rule.option}


def test_every_input_path_option_must_exist():
    import click

    from pbr_cli.commands.train import train

    paths = {param.name: param.type for param in train.params if isinstance(param.type, click.Path)}
    assert set(paths) == {*INPUT_PATHS, "out", "resume"}
    assert all(paths[name].exists for name in INPUT_PATHS)


def test_defaults_render_as_no_option_but_the_configuration(invoke, monkeypatch):
    assert TrainOptions().command_args() == ["--config", "tiny"]
    assert options_from_the_command(invoke, monkeypatch, []) == TrainOptions()


@pytest.mark.parametrize("img", ["vit", "resnet"])
def test_a_config_file_based_on_tiny_gets_the_small_tower_of_img(tmp_path, img):
    from pbr_cli.model.config import load_run_config, tiny_image_kwargs
    from pbr_cli.training import resolve_config

    config_file = tmp_path / "mine.json"
    config_file.write_text('{"base": "tiny", "train": {"steps": 7}}', encoding="utf-8")
    config = resolve_config(TrainOptions(config=str(config_file), img=img))
    assert config.name == "mine" and config.base == "tiny" and config.train.steps == 7
    assert config.model.img_kwargs == tiny_image_kwargs(img) != {}
    assert "base" not in config.to_dict()  # a run's config.json keeps its layout
    paper_file = tmp_path / "big.json"
    paper_file.write_text('{"base": "paper"}', encoding="utf-8")
    assert resolve_config(TrainOptions(config=str(paper_file), img=img)).model.img_kwargs == {}
    assert load_run_config("tiny").base == "tiny"
