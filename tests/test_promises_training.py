"""README promises about what `pbr train` keeps: the best checkpoint is chosen on val MAP and the test split is
read only by `evaluate`."""

from __future__ import annotations

import json

import pytest

from fixtures_data import set_line, write_mod, write_stickerchat
from helpers import assert_refused, module_cache, run_pbr
from pbr_cli.data import open_dataset
from synthetic import write_tiny_dataset

BROKEN_LINE = '{"id": "test2", "context": ["你好"'  # malformed JSON on line 3 of test.jsonl


def val_records(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if '"split": "val"' in line]


@pytest.fixture(scope="module")
def validated(tmp_path_factory):
    """A run validated at steps 2, 4 and 6, trained on a dataset whose test.jsonl has a malformed line, and an
    intact copy of that dataset (which `evaluate --split val` reads: it opens every split)."""
    root = tmp_path_factory.mktemp("best")
    with module_cache(root / "cache"):
        data = write_tiny_dataset(root / "data")
        set_line(data / "test.jsonl", 3, BROKEN_LINE)
        raw = root / "raw.yaml"
        raw.write_text("base: tiny\ntrain:\n  ema: 0\n  bn_batches: 0\n")
        result = run_pbr(
            "train",
            "--data",
            data,
            "-o",
            root / "run",
            "--steps",
            "6",
            "-K",
            "4",
            "--img-size",
            "32",
            "--val-every",
            "2",
            "--config",  # the raw weights and their own statistics: a run whose val MAP does not rise to the end
            raw,
            "--json",
        )
        yield write_tiny_dataset(root / "intact"), root / "run", result


def test_train_never_reads_the_test_split(validated):
    _, run, result = validated
    assert result.exit_code == 0, result.output
    assert "test.jsonl" not in result.output
    # the test split is broken indeed: evaluate, which reads it, refuses it
    refused = run_pbr("evaluate", run, "--split", "test")
    assert_refused(refused, "test.jsonl", "line 3", "malformed JSON")


def test_best_checkpoint_holds_the_step_with_the_highest_val_map(validated):
    intact, run, result = validated
    assert result.exit_code == 0, result.output
    records = val_records(run)
    assert [r["step"] for r in records] == [2, 4, 6]
    maps = [r["map"] for r in records]
    best = maps.index(max(maps))
    assert best != len(maps) - 1 and max(maps) != maps[-1]  # the run must tell best from last to test anything
    assert json.loads(result.stdout)["best_val_map"] == max(maps)
    assert [r.get("best", False) for r in records] == [m > max(maps[:i], default=-1) for i, m in enumerate(maps)]
    # evaluated on val afresh, best.safetensors scores the best step's MAP and last.safetensors the last step's
    for which, expected in (("best", max(maps)), ("last", maps[-1])):
        evaluated = run_pbr("evaluate", run, "--data", intact, "--split", "val", "--which", which, "--json")
        assert evaluated.exit_code == 0, evaluated.output
        assert json.loads(evaluated.stdout)["map"] == pytest.approx(expected, abs=1e-9), which


@pytest.mark.parametrize(
    "writer,broken",
    [(write_stickerchat, "release_test.json"), (write_mod, "c_test_easy_task2.json")],
    ids=["stickerchat", "mod"],
)
def test_other_layouts_open_only_the_splits_asked_for(tmp_path, writer, broken):
    root = writer(tmp_path)
    (root / broken).write_text("{ not json", encoding="utf-8")
    dataset = open_dataset(root, splits=("train", "val"))
    assert set(dataset.splits) == {"train", "val"} and all(dataset.splits.values())
    with pytest.raises(Exception, match=broken):
        open_dataset(root)


# ---- a stopped training keeps its last checkpoint ----------------------------------------------------------

STOPPING = ["--steps", "8", "-K", "4", "--img-size", "32", "--save-every", "2", "--val-every", "8"]


def at_step(monkeypatch, step: int, action):
    """Run `action(terms)` inside the objective of training step `step` (1-based): a step counter, no timing."""
    from pbr_cli.losses.objective import Objective

    original, calls = Objective.__call__, []

    def counted(self, model, batch):
        terms = original(self, model, batch)
        calls.append(1)
        if len(calls) == step:
            action(terms)
        return terms

    monkeypatch.setattr(Objective, "__call__", counted)
    return calls


def saved_state(run) -> tuple[int, dict]:
    """The checkpoint's step and the weights last.safetensors holds (the moving average, with train.ema)."""
    import torch

    state = torch.load(run / "train_state.pt", map_location="cpu", weights_only=True)
    saved = state["average"]["model"] if state["average"] else state["model"]  # what last.safetensors holds
    return int(state["step"]), saved


def assert_resumable(run, step: int) -> None:
    """The checkpoint of `step` loads (evaluate --which last) and the run continues from it to its end."""
    import torch
    from safetensors.torch import load_file

    saved, model = saved_state(run)
    assert saved == step
    last = load_file(str(run / "last.safetensors"))
    assert last.keys() == model.keys() and all(torch.equal(last[name], model[name]) for name in last)
    evaluated = run_pbr("evaluate", run, "--which", "last", "--split", "val", "--json")
    assert evaluated.exit_code == 0, evaluated.output
    resumed = run_pbr("train", "--resume", run, "--json")
    assert resumed.exit_code == 0, resumed.output
    summary = json.loads(resumed.stdout)
    assert summary["resumed_from"] == step and summary["steps"] == 8
    assert saved_state(run)[0] == 8


@pytest.fixture
def tiny_data(tmp_path):
    return write_tiny_dataset(tmp_path / "data")


def test_nan_loss_keeps_the_last_good_checkpoint_and_names_step_and_term(tiny_data, tmp_path, monkeypatch):
    run = tmp_path / "run"
    calls = at_step(monkeypatch, 5, lambda terms: terms.update(itm=terms["itm"] * float("nan")))
    result = run_pbr("train", "--data", tiny_data, "-o", run, *STOPPING)
    assert_refused(
        result,
        "loss term 'itm' became nan at step 5",
        "last good checkpoint (step 4: last.safetensors, train_state.pt) is kept",
    )
    assert len(calls) == 5
    monkeypatch.undo()
    assert_resumable(run, 4)


def test_sigint_saves_the_step_it_stopped_at_and_resumes(tiny_data, tmp_path, monkeypatch):
    import signal

    run = tmp_path / "run"
    calls = at_step(monkeypatch, 3, lambda terms: signal.raise_signal(signal.SIGINT))
    result = run_pbr("train", "--data", tiny_data, "-o", run, *STOPPING)
    assert result.exit_code == 130, result.output
    assert "Traceback" not in result.output
    assert f"SIGINT received: checkpoint saved at step 3; continue with `pbr train --resume {run}`" in result.output
    assert len(calls) == 3  # stopped after the step that saw the signal
    monkeypatch.undo()
    assert_resumable(run, 3)
