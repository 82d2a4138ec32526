"""Messages about a dataset name the file and line a user has to open, not an internal label."""

from __future__ import annotations

import json

import pytest

from fixtures_data import edit_record
from helpers import TRAIN, assert_refused
from synthetic import write_tiny_dataset


@pytest.fixture
def data(tmp_path):
    return write_tiny_dataset(tmp_path / "data")


def test_empty_training_split_names_its_file(invoke, data, tmp_path):
    (data / "train.jsonl").write_text("")
    assert_refused(
        invoke("train", "--data", data, "-o", tmp_path / "run", *TRAIN),
        f"{data / 'train.jsonl'}: the split has no dialogues",
    )
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("split,line", [("val", 3), ("train", 5)])
def test_odd_candidate_set_names_file_and_line(invoke, data, tmp_path, split, line):
    records = [json.loads(text) for text in (data / f"{split}.jsonl").read_text().splitlines()]
    stickers = [json.loads(text)["id"] for text in (data / "stickers.jsonl").read_text().splitlines()]
    truth = records[line - 1]["sticker"]
    edit_record(data / f"{split}.jsonl", line, candidates=[truth] + [s for s in stickers if s != truth][:6])
    message = assert_refused(
        invoke("train", "--data", data, "-o", tmp_path / "run", *TRAIN),
        f"{data / f'{split}.jsonl'}: line {line}",
        "a candidate set of 7 stickers",
        "others have 10",
    )
    assert "(train)" not in message and "(val)" not in message


def test_train_refuses_when_every_sticker_is_unreadable(invoke, data, tmp_path):
    for image in (data / "stickers").rglob("*.png"):
        image.write_bytes(b"not an image")
    assert_refused(
        invoke("train", "--data", data, "-o", tmp_path / "run", *TRAIN, "--skip-bad-images"),
        "no readable sticker images",
        "all 20 were skipped",
    )
    assert not (tmp_path / "run").exists()


def test_resume_with_an_edited_config_names_the_checkpoint(invoke, data, tmp_path):
    run = tmp_path / "run"
    result = invoke("train", "--data", data, "-o", run, *TRAIN)
    assert result.exit_code == 0, result.output
    config = json.loads((run / "config.json").read_text())
    config["model"]["intermediate"] //= 2  # valid on its own, but not what the checkpoint holds
    (run / "config.json").write_text(json.dumps(config))
    assert_refused(invoke("train", "--resume", run), str(run / "train_state.pt"), "does not fit the run's config.json")
