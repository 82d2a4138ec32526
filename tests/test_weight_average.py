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
