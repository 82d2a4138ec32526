"""`train.ema` / `--ema`: a moving average of the weights is what validation scores and what the run saves."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from helpers import TRAIN, assert_refused
from pbr_cli.engine import WeightAverage
from pbr_cli.model.weights import safe_torch_load
from synthetic import write_tiny_dataset


def test_the_average_follows_the_model_with_the_warmed_up_decay():
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    average = WeightAverage(model, decay=0.9)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    expected = {k: v.clone() for k, v in start.items()}
    for update in range(1, 40):
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.add_(1.0)
        model.train()(torch.randn(4, 3))  # moves BatchNorm's running statistics and its batch count
        average.update(model)
        decay = min(0.9, (1 + update) / (10 + update))
        for key, value in model.state_dict().items():
            if value.is_floating_point():
                expected[key] = decay * expected[key] + (1 - decay) * value
            else:
                expected[key] = value.clone()
    assert average.updates == 39
    for key, value in average.model.state_dict().items():
        assert torch.allclose(value, expected[key], atol=1e-5), key
    # against a model moving by 1 a step, the average lags, by less than decay / (1 - decay) = 9 steps
    lag = model.state_dict()["0.weight"] - average.model.state_dict()["0.weight"]
    assert bool(((lag > 1) & (lag < 9)).all())
    assert not average.model.training and not any(p.requires_grad for p in average.model.parameters())


@pytest.fixture(scope="module")
def averaged(tmp_path_factory):
    """A run with --ema 0.5 validated at steps 2, 4 and 6, and its dataset."""
    from helpers import module_cache, run_pbr

    root = tmp_path_factory.mktemp("ema")
    with module_cache(root / "cache"):
        data = write_tiny_dataset(root / "data")
        args = ["--steps", "6", "-K", "4", "--img-size", "32", "--val-every", "2", "--ema", "0.5", "--json"]
        result = run_pbr("train", "--data", data, "-o", root / "run", *args)
        yield data, root / "run", result


def test_validation_and_the_saved_weights_are_the_average(averaged):
    """(tiny also recomputes their BatchNorm statistics: train.bn_batches)"""
    from helpers import run_pbr

    data, run, result = averaged
    assert result.exit_code == 0, result.output
    assert json.loads((run / "config.json").read_text())["train"]["ema"] == 0.5
    state = safe_torch_load(run / "train_state.pt")
    last = load_file(str(run / "last.safetensors"))
    assert state["average"]["updates"] == 6
    assert all(torch.equal(last[k], state["average"]["model"][k]) for k in last)
    assert any(not torch.equal(last[k], state["model"][k]) for k in last if last[k].is_floating_point())
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    maps = [r["map"] for r in records if r.get("split") == "val"]
    assert len(maps) == 3
    # evaluated afresh, the saved (averaged) weights score what validation recorded for them
    for which, expected in (("best", max(maps)), ("last", maps[-1])):
        evaluated = run_pbr("evaluate", run, "--data", data, "--split", "val", "--which", which, "--json")
        assert evaluated.exit_code == 0, evaluated.output
        assert json.loads(evaluated.stdout)["map"] == pytest.approx(expected, abs=1e-9), which


@pytest.mark.parametrize("value", ["1", "-0.1", "nan"])
def test_a_decay_outside_zero_to_one_is_refused(invoke, tmp_path, value):
    data = write_tiny_dataset(tmp_path / "data")
    result = invoke("train", "--data", data, *TRAIN, "--ema", value, "-o", tmp_path / "run")
    assert_refused(result, "--ema", not_written=(tmp_path / "run",))


def test_a_decay_outside_zero_to_one_in_a_config_file_is_refused(invoke, tmp_path):
    data = write_tiny_dataset(tmp_path / "data")
    config = tmp_path / "config.yaml"
    config.write_text("base: tiny\ntrain:\n  ema: 1.5\n")
    result = invoke("train", "--data", data, *TRAIN, "--config", config, "-o", tmp_path / "run")
    assert_refused(result, "config.yaml", "train.ema", not_written=(tmp_path / "run",))


class _Towers(torch.nn.Module):
    """Stands in for the model: BatchNorm over the pixels of each image and over the token ids of each dialogue."""

    def __init__(self):
        super().__init__()
        self.image_norm = torch.nn.BatchNorm2d(3)
        self.text_norm = torch.nn.BatchNorm1d(4)
        self.dropout = torch.nn.Dropout(0.5)

    def encode_image(self, pixels):
        return self.dropout(self.image_norm(pixels.float()))

    def encode_text(self, ids, mask):
        return self.dropout(self.text_norm(ids.float()))


def test_batchnorm_statistics_are_recomputed_from_the_training_batches_without_drawing_randomness():
    import contextlib

    import numpy as np

    from pbr_cli.averaging import recalibrate_batchnorm
    from pbr_cli.data.batches import SplitTable

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(30, 3, 4, 4), dtype=np.uint8)
    dialogues, n, k = 12, 5, 4
    candidates = np.stack([rng.choice(30, n, replace=False) for _ in range(dialogues)])
    tokens = [list(rng.integers(1, 50, size=4)) for _ in range(dialogues)]
    table = SplitTable([f"d{i}" for i in range(dialogues)], tokens, candidates, np.zeros(dialogues, dtype=np.int64))
    model = _Towers()
    with torch.no_grad():
        model.image_norm.running_mean.fill_(1e3)  # statistics that fit nothing
        model.text_norm.running_var.fill_(1e-6)
    state = torch.get_rng_state()
    recalibrate_batchnorm(model, images, table, 0, torch.device("cpu"), 2, k, contextlib.nullcontext, seed=3)
    assert torch.equal(torch.get_rng_state(), state) and not model.training
    assert model.image_norm.momentum == 0.1  # its own momentum back for any later training
    # two batches of k dialogues in the order of seed 3: the statistics are the means of the two batches' own
    rows = np.random.default_rng(3).permutation(dialogues)[: 2 * k].reshape(2, k)
    pixels = [torch.from_numpy(images[candidates[r].reshape(-1)]).float() for r in rows]
    ids = [torch.tensor([tokens[i] for i in r]).float() for r in rows]
    image_mean = torch.stack([p.mean((0, 2, 3)) for p in pixels]).mean(0)
    text_var = torch.stack([t.var(0) for t in ids]).mean(0)
    assert torch.allclose(model.image_norm.running_mean, image_mean, atol=1e-4)
    assert torch.allclose(model.text_norm.running_var, text_var, rtol=1e-4)


def _train(invoke, tmp_path, data, name, yaml: str):
    """Four steps of `tiny` with the train keys of `yaml`: the run's (train_state.pt, last.safetensors)."""
    config = tmp_path / f"{name}.yaml"
    config.write_text("base: tiny\ntrain:\n" + yaml)
    run = tmp_path / name
    args = ["--steps", "4", "-K", "4", "--img-size", "32", "--val-every", "2", "--config", config]
    result = invoke("train", "--data", data, *args, "-o", run)
    assert result.exit_code == 0, result.output
    return safe_torch_load(run / "train_state.pt"), load_file(str(run / "last.safetensors"))


def test_recomputed_statistics_change_what_is_saved_and_not_what_is_trained(invoke, tmp_path):
    data = write_tiny_dataset(tmp_path / "data")
    plain, plain_last = _train(invoke, tmp_path, data, "plain", "  ema: 0\n  bn_batches: 0\n")
    recomputed, recomputed_last = _train(invoke, tmp_path, data, "recomputed", "  ema: 0\n  bn_batches: 3\n")
    averaged, _ = _train(invoke, tmp_path, data, "averaged", "  ema: 0.9\n  bn_batches: 3\n")
    # the trained weights and their running statistics are the same whatever is validated and saved
    for state in (recomputed, averaged):
        assert all(torch.equal(plain["model"][k], state["model"][k]) for k in plain["model"])
    assert all(torch.equal(plain_last[k], plain["model"][k]) for k in plain_last)
    statistics = [k for k in recomputed_last if k.endswith(("running_mean", "running_var"))]
    assert statistics
    for key, value in recomputed_last.items():
        if key in statistics:
            assert not torch.equal(value, plain_last[key]), key
        elif not key.endswith("num_batches_tracked"):  # counts the batches that computed the statistics
            assert torch.equal(value, plain_last[key]), key
