"""Hostile configuration values, generated: every key of ModelConfig / TrainConfig with each kind of wrong
type and out-of-range value, through the config-file loader, a run's config.json and `pbr train` options;
every field of a Hugging Face BERT folder removed or mistyped; the `--seed` range; the image-tower notice.

The bulk goes through the one validating reader; a handful of cases per class through the CLI."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import shutil
from pathlib import Path

import pytest
import torch
import yaml

from helpers import assert_refused
from pbr_cli.cli import SEED_MAX
from pbr_cli.commands.common import non_negative_float, positive_float, positive_int
from pbr_cli.commands.train import train as train_command
from pbr_cli.data.tokenize import CharTokenizer, WordPieceTokenizer
from pbr_cli.errors import ConfigError, FormatError
from pbr_cli.model.bert import HF_BERT_KEYS, hf_bert_shapes, read_hf_bert
from pbr_cli.model.config import (
    INT_MAX,
    RELATIONS,
    RULES,
    TINY_IMAGE_KWARGS,
    ModelConfig,
    Rule,
    TrainConfig,
    load_run_config,
    run_config_from_dict,
    validate,
)
from pbr_cli.model.pbr import PBRModel, config_from_hf_bert
from pbr_cli.model.run import load_run, save_run_files
from pbr_cli.model.towers import ImageTower, load_image_weights
from pbr_cli.model.weights import save_weights
from synthetic import write_tiny_dataset

TRAIN = ["--steps", "2", "-K", "4", "--img-size", "32"]


def tree_hash(*paths: Path) -> str:
    """One digest of the files under `paths` (names and contents), to show that inputs are unchanged."""
    digest = hashlib.sha256()
    for root in paths:
        for path in sorted([root] if root.is_file() else root.rglob("*")):
            if path.is_file():
                digest.update(str(path).encode() + path.read_bytes())
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------------------------
# The cases, generated from the dataclass fields and the rule of each key


def config_keys() -> list[str]:
    return ["name"] + [
        f"{section}.{f.name}"
        for section, cls in (("model", ModelConfig), ("train", TrainConfig))
        for f in dataclasses.fields(cls)
    ]


def wrong_types(rule: Rule) -> list:
    containers = [None, [1], {"a": 1}]
    if rule.kind == "int":
        return containers + [True, "3", 2.5, math.nan, 10**400]
    if rule.kind == "float":
        return containers + [True, "0.1", math.nan, math.inf, -math.inf, 10**400]
    if rule.kind == "bool":
        return containers + [1, "true"]
    if rule.kind == "mapping":
        return [None, True, 1, "x", [1], {1: 2}]
    return containers + [True, 1]  # str, name, choice


def out_of_range(rule: Rule) -> list:
    if rule.kind in ("int", "float"):
        step = 1 if rule.kind == "int" else max(abs(rule.low), 1e-3) / 2
        values = [rule.low if rule.low_open else rule.low - step]
        if rule.high is not None:
            values.append(rule.high if rule.high_open else rule.high + (1 if rule.kind == "int" else step))
        return values
    if rule.kind == "choice":
        return ["no-such-" + rule.choices[0], rule.choices[0].upper() + "!"]
    if rule.kind == "name":
        return ["", "../elsewhere", "a/b", "tab\there"]
    return []


def bad_values(key: str) -> list:
    return out_of_range(RULES[key]) + wrong_types(RULES[key])


def nested(key: str, value) -> dict:
    if "." not in key:
        return {key: value}
    section, name = key.split(".")
    return {section: {name: value}}


LOADER_CASES = [(key, value) for key in config_keys() for value in bad_values(key)]


def case_id(key, value) -> str:
    return f"{key}={value!r}"[:60]


def write_config(path: Path, data) -> Path:
    path.write_text(yaml.safe_dump(data) if path.suffix == ".yaml" else json.dumps(data), encoding="utf-8")
    return path


def assert_names(exc: Exception, path: Path, key: str) -> None:
    """The error is for `path` and begins with the key: `<path>: <key>: ...`."""
    assert exc.path == str(path), str(exc)
    assert str(exc).startswith(f"{path}: {key}: "), str(exc)
    assert "\n" not in str(exc)


# ---------------------------------------------------------------------------------------------------------------
# The rule table itself


def test_every_configuration_key_has_a_rule():
    assert sorted(RULES) == sorted(config_keys())
    assert all(rule.high is None or rule.high <= INT_MAX for rule in RULES.values())


@pytest.mark.parametrize("name", ["tiny", "paper"])
def test_named_configurations_pass_and_round_trip(tmp_path, name):
    config = load_run_config(name)
    validate(config)
    assert run_config_from_dict(json.loads(json.dumps(config.to_dict())), tmp_path / "config.json") == config


def test_whole_numbers_are_normalised_to_the_key_type(tmp_path):
    path = write_config(tmp_path / "cfg.json", {"model": {"heads": 3.0}, "train": {"epochs": 3, "steps": 2e2}})
    config = load_run_config(str(path))
    assert type(config.model.heads) is int and type(config.train.steps) is int and config.train.steps == 200
    assert type(config.train.epochs) is float


# ---------------------------------------------------------------------------------------------------------------
# Config files through the loader


@pytest.mark.parametrize("key,value", LOADER_CASES, ids=[case_id(*case) for case in LOADER_CASES])
def test_bad_value_in_a_config_file_is_refused(tmp_path, key, value):
    path = write_config(tmp_path / "cfg.yaml", nested(key, value))
    with pytest.raises(ConfigError) as caught:
        load_run_config(str(path))
    assert_names(caught.value, path, key)


# each relation between keys, and a file that breaks it
RELATION_CASES = {
    "model.heads": {"model": {"hidden": 100}},  # tiny: 3 heads
    "model.hidden": {"model": {"txt": "lstm", "hidden": 95, "heads": 5}},
    "model.fusion_layers": {"model": {"fusion_layers": 0}, "train": {"loss": "itm"}},
    "train.min_lr": {"train": {"lr": 1e-4, "min_lr": 1e-3}},
    "train.epochs": {"train": {"steps": 0, "epochs": 0}},
    "train.batch_size": {"train": {"batch_size": 1}},  # tiny: BatchNorm over the step's dialogues
}


def test_every_relation_has_a_case():
    assert sorted(RELATION_CASES) == sorted(relation.key for relation in RELATIONS)


@pytest.mark.parametrize("key", sorted(RELATION_CASES))
def test_keys_that_contradict_each_other_are_refused(tmp_path, key):
    path = write_config(tmp_path / "cfg.json", RELATION_CASES[key])
    with pytest.raises(ConfigError) as caught:
        load_run_config(str(path))
    assert_names(caught.value, path, key)


STRUCTURE_CASES = {
    "top-level-list": ("cfg.json", "[1, 2]", "expected a mapping at the top level"),
    "top-level-string": ("cfg.yaml", "just words\n", "expected a mapping at the top level"),
    "model-list": ("cfg.yaml", "model: [1]\n", "model: expected a mapping"),
    "train-number": ("cfg.json", '{"train": 3}', "train: expected a mapping"),
    "unknown-model-key": ("cfg.yaml", "model:\n  embed_dimm: 32\n", "unknown key(s) model.embed_dimm"),
    "unknown-train-key": ("cfg.yaml", "train:\n  lr_max: 1\n", "unknown key(s) train.lr_max"),
    "unknown-top-key": ("cfg.yaml", "colour: red\n", "unknown key(s) colour"),
    "non-string-key": ("cfg.yaml", "model:\n  1: 2\n", "unknown key(s) model.1"),
    "unknown-base": ("cfg.yaml", "base: huge\n", "base: must be one of tiny, paper"),
    "base-list": ("cfg.yaml", "base: [tiny]\n", "base: must be one of tiny, paper"),
    "bad-yaml": ("cfg.yaml", "model: [\n", "cannot parse configuration"),
    "bad-json": ("cfg.json", '{"model": ', "cannot parse configuration"),
    "json-nan-lr": ("cfg.json", '{"train": {"lr": NaN}}', "train.lr: must be a finite number"),
    "not-utf8": ("cfg.yaml", b"model:\n  img: \xff\xfe\n", "cannot parse configuration"),
}


@pytest.mark.parametrize("case", sorted(STRUCTURE_CASES))
def test_malformed_config_file_is_refused(tmp_path, case):
    name, content, needle = STRUCTURE_CASES[case]
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(ConfigError) as caught:
        load_run_config(str(path))
    assert caught.value.path == str(path) and needle in str(caught.value), str(caught.value)


# ---------------------------------------------------------------------------------------------------------------
# A run's config.json (evaluate, rank, embed --model, train --resume): the same rules


RUN_CASES = [(key, bad_values(key)[0]) for key in config_keys() if bad_values(key)]


@pytest.mark.parametrize("key,value", RUN_CASES, ids=[case_id(*case) for case in RUN_CASES])
def test_bad_value_in_a_run_config_is_refused(tmp_path, key, value):
    data = load_run_config("tiny").to_dict()
    section, _, name = key.rpartition(".")
    (data[section] if section else data)[name] = value
    path = tmp_path / "run" / "config.json"
    with pytest.raises(ConfigError) as caught:
        run_config_from_dict(data, path)
    assert_names(caught.value, path, key)


@pytest.fixture(scope="module")
def fake_run(tmp_path_factory):
    """A run folder as `pbr train` writes it (untrained weights of the tiny model at 32 px), and a dataset."""
    root = tmp_path_factory.mktemp("sweep-run")
    config = load_run_config("tiny")
    tokenizer = CharTokenizer()
    config.model.img_size, config.model.vocab_size = 32, len(tokenizer)
    run = root / "run"
    run.mkdir()
    save_run_files(run, config, tokenizer)
    torch.manual_seed(0)
    save_weights(run / "best.safetensors", PBRModel(config.model))
    (run / "run.json").write_text(json.dumps({"options": {"data": None}, "seed": 0}), encoding="utf-8")
    return {"run": run, "data": write_tiny_dataset(root / "data")}


def edited_run(fake_run, tmp_path, edit) -> Path:
    run = tmp_path / "run"
    shutil.copytree(fake_run["run"], run)
    data = json.loads((run / "config.json").read_text(encoding="utf-8"))
    data = edit(data)
    (run / "config.json").write_text(json.dumps(data), encoding="utf-8")
    return run


def test_the_unedited_run_loads(fake_run):
    model, config, tokenizer, _ = load_run(fake_run["run"])
    assert config.model.img_size == 32 and len(tokenizer) == config.model.vocab_size


def setting(section, key, value):
    def edit(data):
        data[section][key] = value
        return data

    return edit


RUN_CLI_CASES = {
    "heads-0": (setting("model", "heads", 0), "model.heads: must be at least 1, got 0"),
    "val-every-2.5": (setting("train", "val_every", 2.5), "train.val_every: expected an integer, got 2.5"),
    "temp-string": (setting("model", "temp", "hot"), "model.temp: expected a number"),
    "vocab-size": (setting("model", "vocab_size", 7), "model.vocab_size: is 7, but tokenizer.json has"),
    "unknown-tower": (setting("model", "img", "no_such_tower"), "unknown image tower 'no_such_tower'"),
    "model-list": (lambda data: {**data, "model": [1]}, "model: expected a mapping"),
    "top-level-list": (lambda data: [data], "expected a mapping at the top level"),
}


# train --resume reads the vocabulary size and the image tower after the dataset (evaluate and embed cover them)
RUN_CLI_COMMAND_CASES = [
    (command, case)
    for command in ("evaluate", "embed", "resume")
    for case in sorted(RUN_CLI_CASES)
    if not (command == "resume" and case in ("vocab-size", "unknown-tower"))
]


@pytest.mark.parametrize("command, case", RUN_CLI_COMMAND_CASES)
def test_edited_run_config_is_refused_by_the_commands(invoke, fake_run, tmp_path, command, case):
    edit, needle = RUN_CLI_CASES[case]
    run = edited_run(fake_run, tmp_path, edit)
    before = tree_hash(run, fake_run["data"])
    output = tmp_path / "out.h5"
    args = {
        "evaluate": ["evaluate", run, "--data", fake_run["data"], "--scores-out", output],
        "embed": ["embed", fake_run["data"], "--model", run, "-o", output],
        "resume": ["train", "--resume", run],
    }[command]
    result = invoke(*args)
    assert_refused(result, str(run / "config.json"), needle, not_written=(output,), folder=tmp_path)
    assert tree_hash(run, fake_run["data"]) == before
    assert sorted(p.name for p in run.iterdir()) == sorted(p.name for p in fake_run["run"].iterdir())


@pytest.mark.parametrize(
    "content,needle",
    [
        ("[]", "expected a JSON object, got list"),
        ('{"kind": ["char"], "vocab": []}', "unknown tokenizer kind"),
        ('{"kind": "char", "vocab": [1, 2]}', "vocab must be a list of strings"),
    ],
)
def test_malformed_run_tokenizer_is_refused(tmp_path, content, needle):
    from pbr_cli.data.tokenize import load_tokenizer

    path = tmp_path / "tokenizer.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(FormatError) as caught:
        load_tokenizer(path)
    assert caught.value.path == str(path) and needle in str(caught.value), str(caught.value)


@pytest.mark.parametrize("seed", [-1, 2**31, "x", [1]])
def test_resume_refuses_a_run_json_seed_out_of_range(invoke, fake_run, tmp_path, seed):
    run = edited_run(fake_run, tmp_path, lambda data: data)
    (run / "run.json").write_text(json.dumps({"options": {"data": None}, "seed": seed}), encoding="utf-8")
    assert_refused(invoke("train", "--resume", run), str(run), "cannot resume")


# ---------------------------------------------------------------------------------------------------------------
# `pbr train --config FILE` and the options: refused before anything is written


CLI_CONFIG_CASES = {
    "heads-0": ("cfg.json", {"model": {"heads": 0}}, "model.heads: must be at least 1, got 0"),
    "val-every-2.5": ("cfg.yaml", {"train": {"val_every": 2.5}}, "train.val_every: expected an integer, got 2.5"),
    "lr-nan": ("cfg.json", {"train": {"lr": math.nan}}, "train.lr: must be a finite number, got nan"),
    "bool-batch": ("cfg.yaml", {"train": {"batch_size": True}}, "train.batch_size: expected an integer, got True"),
    "top-level-list": ("cfg.json", [1], "expected a mapping at the top level"),
    "name-escapes": ("cfg.yaml", {"name": "../../escaped"}, "name: must be a plain name"),
    "batch-1-batchnorm": (
        "cfg.yaml",
        {"train": {"batch_size": 1}},
        "train.batch_size: must be at least 2 with model.embed_norm batch",
    ),
}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_tiny_dataset(tmp_path_factory.mktemp("sweep-data") / "data")


@pytest.mark.parametrize("case", sorted(CLI_CONFIG_CASES))
def test_bad_config_file_through_pbr_train(invoke, dataset, tmp_path, monkeypatch, case):
    name, data, needle = CLI_CONFIG_CASES[case]
    path = write_config(tmp_path / name, data)
    monkeypatch.chdir(tmp_path)
    before = tree_hash(path, dataset)
    result = invoke("train", "--data", dataset, "--config", path, *TRAIN)
    assert_refused(result, f"{path}: ", needle, not_written=(tmp_path / "runs",), folder=tmp_path)
    assert tree_hash(path, dataset) == before
    assert not (tmp_path.parent / "escaped").exists()


def float_options() -> list[str]:
    checked = (positive_float, non_negative_float)
    return [max(param.opts, key=len) for param in train_command.params if getattr(param, "callback", None) in checked]


def int_options() -> list[str]:
    return [
        max(param.opts, key=len) for param in train_command.params if getattr(param, "callback", None) is positive_int
    ]


OPTION_CASES = (
    [(option, value) for option in float_options() for value in ("inf", "nan", "-inf", "-1")]
    + [(option, value) for option in int_options() for value in ("0", "-5")]
    + [("--val-limit", "-5")]
)

# values each option's click check lets through, refused by the configuration rules after the merge
MERGED_CASES = [
    (["--min-lr", "0.01"], "train.min_lr (--min-lr): must be at most train.lr (0.001), got 0.01"),
    (["--lr", "1e-5", "--min-lr", "1e-4"], "train.min_lr (--min-lr): must be at most train.lr (1e-05)"),
    (["--temp", "0.9"], "model.temp (--temp): must be at most 0.5, got 0.9"),
    (["-K", "1"], "train.batch_size (--batch-size): must be at least 2 with model.embed_norm batch"),
    (["--intra", "--intra-weight", "0"], "--intra-weight 0 turns off the TSCL term that --intra turns on"),
    (["--no-inter", "--inter-weight", "0.7"], "--inter-weight has no effect with --no-inter"),
    (["--loss", "itc", "--itm-negatives", "3"], "--itm-negatives shapes the ITM loss, which --loss itc does not train"),
    (["--loss", "itc", "--itm-list-weight", "1"], "--itm-list-weight shapes the ITM loss"),
]


def test_option_cases_cover_the_checked_options():
    assert {"--lr", "--min-lr", "--temp", "--epochs", "--ekd-tau"} <= set(float_options())
    assert {"--steps", "--batch-size", "--val-every"} <= set(int_options())


@pytest.mark.parametrize("option,value", OPTION_CASES, ids=[f"{o}={v}" for o, v in OPTION_CASES])
def test_bad_option_value_is_refused(invoke, dataset, tmp_path, option, value):
    out = tmp_path / "run"
    result = invoke("train", "--data", dataset, *TRAIN, "-o", out, option, value)
    assert_refused(result, option, "got", not_written=(out,), folder=tmp_path)


@pytest.mark.parametrize("args,needle", MERGED_CASES, ids=[" ".join(a) for a, _ in MERGED_CASES])
def test_options_that_break_the_configuration_rules_are_refused(invoke, dataset, tmp_path, args, needle):
    out = tmp_path / "run"
    result = invoke("train", "--data", dataset, *TRAIN, "-o", out, *args)
    assert_refused(result, needle, not_written=(out,), folder=tmp_path)


def test_a_warm_up_longer_than_the_run_is_said_and_derived_keys_of_a_reused_config_are_derived(
    invoke, dataset, tmp_path
):
    config = tmp_path / "reused.yaml"  # a run's config.json as a user copies it: keys pbr derives itself
    config.write_text(yaml.safe_dump({"model": {"ekd_dim": 50, "tscl_dim": 7, "vocab_size": 5}}), encoding="utf-8")
    out = tmp_path / "run"
    result = invoke("train", "--data", dataset, *TRAIN, "--config", config, "-o", out)
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "the warm-up (30 steps) is longer than the run (2 steps): the learning rate peaks at 6.67e-05" in said
    saved = json.loads((out / "config.json").read_text(encoding="utf-8"))["model"]
    assert saved["ekd_dim"] == 0 and saved["tscl_dim"] == 0 and saved["vocab_size"] > 5


def test_one_dialogue_per_step_is_refused_only_where_batchnorm_needs_two(tmp_path):
    from types import SimpleNamespace

    from pbr_cli.engine import Trainer
    from pbr_cli.training import TrainOptions, resolve_config

    no_batchnorm = write_config(tmp_path / "cfg.json", {"model": {"embed_norm": "none"}})
    assert resolve_config(TrainOptions(config=str(no_batchnorm), batch_size=1)).train.batch_size == 1
    config = resolve_config(TrainOptions(batch_size=2))  # tiny: embed_norm batch
    data = SimpleNamespace(train=range(8))
    Trainer.check_batch(SimpleNamespace(config=config, data=data, world_size=1))
    with pytest.raises(ConfigError, match="each of the 2 processes 1 dialogue"):  # BatchNorm is per process
        Trainer.check_batch(SimpleNamespace(config=config, data=data, world_size=2))


@pytest.mark.parametrize("seed", ["99999999999999999999999", "-1", str(SEED_MAX + 1), "1.5"])
def test_seed_out_of_range_is_refused(invoke, tmp_path, seed):
    out = tmp_path / "run"
    assert_refused(invoke("--seed", seed, "train", "-o", out), "--seed", not_written=(out,))


def test_seed_range_is_in_the_help_and_works_everywhere_the_seed_goes(invoke):
    import numpy as np

    from pbr_cli.runtime import seed_everything

    assert f"0<=x<={SEED_MAX}" in invoke("--help").output
    seed_everything(SEED_MAX)
    torch.Generator().manual_seed(SEED_MAX + 7919 * 8)  # the engine's sampling generator, rank 7
    np.random.default_rng([SEED_MAX, 10**6])
    np.random.RandomState(SEED_MAX + 6)  # scikit-learn's random_state (anchors)


# ---------------------------------------------------------------------------------------------------------------
# A Hugging Face BERT folder (`--txt-model`): every field of config.json, vocab.txt and the weights


HF_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + list("你好今天考试过了我想要猫")
HF_CONFIG = {
    "architectures": ["BertModel"],
    "model_type": "bert",
    "hidden_size": 32,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "num_hidden_layers": 4,
    "max_position_embeddings": 64,
    "vocab_size": len(HF_VOCAB),
    "type_vocab_size": 2,
    "hidden_act": "gelu",
    "layer_norm_eps": 1e-12,
}


@pytest.fixture(scope="module")
def bert_folder(tmp_path_factory):
    """A BERT folder as `save_pretrained` writes it (tensor names and shapes of BertModel, random values)."""
    from safetensors.torch import save_file

    folder = tmp_path_factory.mktemp("sweep-bert") / "bert"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(HF_CONFIG), encoding="utf-8")
    (folder / "vocab.txt").write_text("\n".join(HF_VOCAB) + "\n", encoding="utf-8")
    generator = torch.Generator().manual_seed(0)
    save_file(
        {name: torch.randn(shape, generator=generator) for name, shape in hf_bert_shapes(HF_CONFIG).items()},
        str(folder / "model.safetensors"),
    )
    return folder


def tiny_model_config() -> ModelConfig:
    return load_run_config("tiny").model  # 2 text + 2 fusion layers


def copy_folder(bert_folder, tmp_path) -> Path:
    folder = tmp_path / "bert"
    shutil.copytree(bert_folder, folder)
    return folder


def test_the_unedited_bert_folder_loads(bert_folder):
    config = config_from_hf_bert(tiny_model_config(), str(bert_folder))
    assert (config.hidden, config.heads, config.intermediate) == (32, 2, 64)
    config.vocab_size = len(HF_VOCAB)
    model = PBRModel(config)
    assert not any("text tower" in notice for notice in model.load_pretrained(txt_model=str(bert_folder)))


def hf_bad_values(key: str) -> list:
    rule, default = HF_BERT_KEYS[key]
    removed = [] if default is not None else ["removed"]
    return removed + out_of_range(rule) + [None, True, "32", 2.5, [1]]


HF_CASES = [(key, value) for key in HF_BERT_KEYS for value in hf_bad_values(key)]


@pytest.mark.parametrize("key,value", HF_CASES, ids=[case_id(*case) for case in HF_CASES])
def test_bad_field_of_the_bert_config_is_refused(bert_folder, tmp_path, key, value):
    folder = copy_folder(bert_folder, tmp_path)
    data = dict(HF_CONFIG)
    if value == "removed":
        del data[key]
    else:
        data[key] = value
    (folder / "config.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(FormatError) as caught:
        config_from_hf_bert(tiny_model_config(), str(folder))
    assert_names(caught.value, folder / "config.json", key)


def replace(name: str, content):
    def edit(folder: Path):
        path = folder / name
        if content is None:
            path.unlink()
        else:
            path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return path

    return edit


def edit_weights(change):
    def edit(folder: Path):
        from safetensors.torch import load_file, save_file

        state = load_file(str(folder / "model.safetensors"))
        change(state)
        save_file(state, str(folder / "model.safetensors"))
        return folder / "model.safetensors"

    return edit


def edit_config(**values):
    def edit(folder: Path):
        (folder / "config.json").write_text(json.dumps({**HF_CONFIG, **values}), encoding="utf-8")
        return folder / "config.json"

    return edit


# what is broken -> (the edit, the readers that refuse it, the needle); the edit returns the file the error names
HF_FILE_CASES = {
    "config-list": (replace("config.json", "[1, 2]"), "config", "expected a JSON object, got list"),
    "config-string": (replace("config.json", '"bert"'), "config", "expected a JSON object, got str"),
    "config-not-json": (replace("config.json", "{hidden_size: 32"), "config", "not valid JSON"),
    "config-not-utf8": (replace("config.json", b'{"hidden_size": "\xff"}'), "config", "not valid JSON"),
    "config-missing": (lambda f: (replace("config.json", None)(f), f)[1], "config", "no config.json"),
    "heads-not-dividing": (edit_config(num_attention_heads=3), "config", "num_attention_heads: must divide"),
    "too-few-layers": (edit_config(num_hidden_layers=3), "config", "num_hidden_layers: 3, but the model takes 4"),
    "vocab-missing": (lambda f: (replace("vocab.txt", None)(f), f)[1], "config", "no vocab.txt"),
    "vocab-empty": (replace("vocab.txt", "\n"), "config", "the vocabulary is empty"),
    "vocab-not-utf8": (replace("vocab.txt", b"[PAD]\n\xff\xfe\n"), "config", "not UTF-8 text"),
    "vocab-size-differs": (
        replace("vocab.txt", "\n".join(HF_VOCAB[:-1])),
        "config",
        f"holds {len(HF_VOCAB) - 1} tokens, but config.json has vocab_size {len(HF_VOCAB)}",
    ),
    "vocab-lacks-pad": (
        replace("vocab.txt", "\n".join(["[PADDING]", *HF_VOCAB[1:]])),
        "tokenizer",
        "lacks the special token [PAD]",
    ),
    "weights-missing": (
        lambda f: (replace("model.safetensors", None)(f), f)[1],
        "config",
        "no model.safetensors or pytorch_model.bin",
    ),
    "weights-garbage": (
        replace("model.safetensors", b"\x00" * 64),
        "config weights",
        "not a readable safetensors file",
    ),
    "bin-garbage": (
        lambda f: (replace("model.safetensors", None)(f), replace("pytorch_model.bin", b"junk")(f))[1],
        "weights",
        "refused to load",
    ),
    "tensor-missing": (
        edit_weights(lambda s: s.pop("encoder.layer.3.output.dense.weight")),
        "config weights",
        "lacks encoder.layer.3.output.dense.weight",
    ),
    "tensor-shape": (
        edit_weights(lambda s: s.update({"embeddings.word_embeddings.weight": torch.zeros(3, 32)})),
        "config weights",
        "embeddings.word_embeddings.weight has shape (3, 32), but config.json gives",
    ),
    "config-says-wider": (
        lambda f: (edit_config(intermediate_size=48)(f), f / "model.safetensors")[1],
        "config weights",
        "encoder.layer.0.intermediate.dense.weight has shape (64, 32), but config.json gives (48, 32)",
    ),
}


@pytest.mark.parametrize("case", sorted(HF_FILE_CASES))
def test_broken_bert_folder_is_refused(bert_folder, tmp_path, case):
    edit, readers, needle = HF_FILE_CASES[case]
    folder = copy_folder(bert_folder, tmp_path)
    named = edit(folder)
    read = {
        "config": lambda: config_from_hf_bert(tiny_model_config(), str(folder)),  # at `pbr train` start
        "tokenizer": lambda: WordPieceTokenizer.from_folder(folder),
        "weights": lambda: read_hf_bert(folder),
    }  # when the weights load
    for reader in readers.split():
        with pytest.raises((ConfigError, FormatError)) as caught:
            read[reader]()
        assert caught.value.path == str(named) and needle in str(caught.value), (reader, str(caught.value))


@pytest.mark.parametrize("case", ["config-list", "weights-garbage"])
def test_broken_bert_folder_through_pbr_train(invoke, bert_folder, dataset, tmp_path, case):
    edit, _, needle = HF_FILE_CASES[case]
    folder = copy_folder(bert_folder, tmp_path)
    named = edit(folder)
    before = tree_hash(folder, dataset)
    out = tmp_path / "run"
    result = invoke("train", "--data", dataset, *TRAIN, "--txt-model", folder, "-o", out)
    assert_refused(result, str(named), needle, not_written=(out,), folder=tmp_path)
    assert tree_hash(folder, dataset) == before


# ---------------------------------------------------------------------------------------------------------------
# `--img-weights`, and the notice naming the image tower actually built


def small_vit() -> ImageTower:
    config = tiny_model_config()
    config.img, config.img_size, config.img_kwargs = (
        "vit",
        32,
        {"patch_size": 8, "embed_dim": 32, "depth": 1, "num_heads": 2},
    )
    return ImageTower(config)


IMG_WEIGHT_CASES = {
    "missing": (None, "file not found"),
    "garbage": (b"not a checkpoint", "refused to load"),
    "no-tower-weights": ({"unrelated": torch.zeros(2)}, "no image-tower weights found"),
    "pos-embed-2d": ({"pos_embed": torch.zeros(17, 32)}, "pos_embed has shape (17, 32), which cannot be resized"),
    "pos-embed-width": ({"pos_embed": torch.zeros(1, 17, 8)}, "pos_embed has shape (1, 17, 8)"),
    "wrong-shape": ({"cls_token": torch.zeros(1, 1, 8)}, "cls_token has shape (1, 1, 8), expected (1, 1, 32)"),
}


@pytest.mark.parametrize("case", sorted(IMG_WEIGHT_CASES))
def test_bad_image_weights_are_refused(tmp_path, case):
    content, needle = IMG_WEIGHT_CASES[case]
    path = tmp_path / "vit.pth"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        torch.save(content, path)
    with pytest.raises(FormatError) as caught:
        load_image_weights(small_vit(), path, 32)
    assert caught.value.path == str(path) and needle in str(caught.value), str(caught.value)


def test_safetensors_image_weights_are_told_by_content_not_by_name(tmp_path):
    """pbr's own teacher checkpoint is safetensors named teacher.pt; its backbone fits the tiny image tower."""
    from pbr_cli.teacher import Teacher, build_classifier

    config = tiny_model_config()
    model, teacher_config = build_classifier("tiny", config.img_size)
    checkpoint = Teacher(model, teacher_config).save(tmp_path / "teacher.pt")
    tower = ImageTower(config)
    load_image_weights(tower, checkpoint, config.img_size)
    torch.testing.assert_close(tower.body.conv1[0].weight, model.conv1[0].weight)


def test_a_folder_as_image_weights_says_so(invoke, dataset, tmp_path):
    folder = tmp_path / "weights"
    folder.mkdir()
    with pytest.raises(FormatError, match=f"^{folder}: is a folder, not a file$"):
        load_image_weights(small_vit(), folder, 32)
    before = tree_hash(dataset)
    out = tmp_path / "run"
    result = invoke("train", "--data", dataset, *TRAIN, "--img-weights", folder, "-o", out)
    assert_refused(result, f"{folder}: is a folder, not a file", not_written=(out,), folder=tmp_path)
    assert tree_hash(dataset) == before


def test_image_tower_notice_names_the_tower_built():
    config = tiny_model_config()
    config.img_size, config.vocab_size = 32, 50
    assert any("image tower (test_resnet)" in notice for notice in PBRModel(config).load_pretrained())
    config.img, config.img_kwargs = "vit", dict(TINY_IMAGE_KWARGS["vit"])
    notice = next(n for n in PBRModel(config).load_pretrained() if n.startswith("image tower"))
    assert "vit_base_patch16_224, patch_size=8, embed_dim=96, depth=3, num_heads=3" in notice, notice


@pytest.mark.parametrize(
    "kwargs,needle",
    [
        ({"depth": "three"}, "cannot build image tower"),
        ({"num_classes": 5}, "model.img_kwargs: num_classes is set by pbr"),
        ({"in_chans": 1}, "model.img_kwargs: in_chans must be 3"),  # builds, then fails on the first RGB batch
    ],
)
def test_image_tower_kwargs_that_timm_refuses_are_a_config_error(kwargs, needle):
    config = tiny_model_config()
    config.img, config.img_size, config.img_kwargs = "vit", 32, kwargs
    with pytest.raises(ConfigError, match=needle):
        ImageTower(config)


def test_train_names_the_config_file_of_a_tower_it_cannot_build(invoke, tmp_path):
    from fixtures_data import write_pbr_dataset

    data = write_pbr_dataset(tmp_path / "data")
    config = tmp_path / "tower.yaml"
    config.write_text("model:\n  img_kwargs: {in_chans: 1}\n", encoding="utf-8")
    result = invoke("train", "--data", data, "--config", config, "--steps", "1", "-K", "2", "-o", tmp_path / "run")
    assert_refused(result, f"{config}: model.img_kwargs: in_chans must be 3", not_written=(tmp_path / "run",))


def test_an_exponent_yaml_reads_as_text_gets_a_hint(tmp_path):
    from pbr_cli.model.config import load_run_config

    path = tmp_path / "lr.yaml"
    path.write_text("train:\n  lr: 1e-3\n", encoding="utf-8")  # YAML 1.1: text, not a number
    with pytest.raises(ConfigError, match=r"train.lr: expected a number, got '1e-3' \(.*write 1.0e-3\)"):
        load_run_config(str(path))
    path.write_text("train:\n  lr: 1.0e-3\n", encoding="utf-8")
    assert load_run_config(str(path)).train.lr == 1e-3
