"""README promises about what `pbr train` keeps: the best checkpoint is chosen on val MAP and the test split is
read only by `evaluate`."""

from __future__ import annotations

import json

import pytest

from fixtures_data import set_line, write_mod, write_stickerchat
from pbr_cli.data import open_dataset
from synthetic import write_tiny_dataset
from test_bad_inputs import TRAIN, assert_refused, cache_folder, run_cli

BROKEN_LINE = '{"id": "test2", "context": ["你好"'      # malformed JSON on line 3 of test.jsonl


def val_records(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if '"split": "val"' in line]


@pytest.fixture(scope="module")
def validated(tmp_path_factory):
    """A run validated at steps 2, 4 and 6, trained on a dataset whose test.jsonl has a malformed line, and an
    intact copy of that dataset (which `evaluate --split val` reads: it opens every split)."""
    root = tmp_path_factory.mktemp("best")
    with cache_folder(root / "cache"):
        data = write_tiny_dataset(root / "data")
        set_line(data / "test.jsonl", 3, BROKEN_LINE)
        result = run_cli("train", "--data", data, "-o", root / "run", "--steps", "6", "-K", "4", "--img-size", "32",
                         "--val-every", "2", "--json")
        yield write_tiny_dataset(root / "intact"), root / "run", result


def test_train_never_reads_the_test_split(validated):
    _, run, result = validated
    assert result.exit_code == 0, result.output
    assert "test.jsonl" not in result.output
    # the test split is broken indeed: evaluate, which reads it, refuses it
    refused = run_cli("evaluate", run, "--split", "test")
    assert_refused(refused, "test.jsonl", "line 3", "malformed JSON")


def test_best_checkpoint_holds_the_step_with_the_highest_val_map(validated):
    intact, run, result = validated
    assert result.exit_code == 0, result.output
    records = val_records(run)
    assert [r["step"] for r in records] == [2, 4, 6]
    maps = [r["map"] for r in records]
    best = maps.index(max(maps))
    assert best != len(maps) - 1 and max(maps) != maps[-1]   # the run must tell best from last to test anything
    assert json.loads(result.stdout)["best_val_map"] == max(maps)
    assert [r.get("best", False) for r in records] == [m > max(maps[:i], default=-1) for i, m in enumerate(maps)]
    # evaluated on val afresh, best.safetensors scores the best step's MAP and last.safetensors the last step's
    for which, expected in (("best", max(maps)), ("last", maps[-1])):
        evaluated = run_cli("evaluate", run, "--data", intact, "--split", "val", "--which", which, "--json")
        assert evaluated.exit_code == 0, evaluated.output
        assert json.loads(evaluated.stdout)["map"] == pytest.approx(expected, abs=1e-9), which


@pytest.mark.parametrize("writer,broken", [(write_stickerchat, "release_test.json"),
                                           (write_mod, "c_test_easy_task2.json")], ids=["stickerchat", "mod"])
def test_other_layouts_open_only_the_splits_asked_for(tmp_path, writer, broken):
    root = writer(tmp_path)
    (root / broken).write_text("{ not json", encoding="utf-8")
    dataset = open_dataset(root, splits=("train", "val"))
    assert set(dataset.splits) == {"train", "val"} and all(dataset.splits.values())
    with pytest.raises(Exception, match=broken):
        open_dataset(root)
