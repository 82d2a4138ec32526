"""`pbr evaluate --scores FILE`: any system's scores, as pbr HDF5, plain HDF5 or JSON lines."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from helpers import assert_refused
from pbr_cli.data import open_dataset
from pbr_cli.features import write_h5
from pbr_cli.metrics import rank_metrics
from synthetic import write_tiny_dataset


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = write_tiny_dataset(tmp_path_factory.mktemp("scores") / "data")
    return open_dataset(root)


def system_scores(dataset, split="test", seed=0):
    """Scores of a made-up system in each dialogue's candidate order: better than chance, not perfect."""
    rng = np.random.default_rng(seed)
    dialogues = dataset.split(split)
    scores = rng.random((len(dialogues), len(dialogues[0].candidates)))
    label = np.array([d.candidates.index(d.sticker) for d in dialogues])
    scores[np.arange(len(label)), label] += rng.random(len(label)) * 0.8
    return [d.id for d in dialogues], scores, label


def write_jsonl(path, ids, scores, label=None):
    lines = [
        {"id": i, "scores": s.tolist(), **({} if label is None else {"label": int(t)})}
        for i, s, t in zip(ids, scores, label if label is not None else [None] * len(ids))
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def evaluate_json(invoke, *args):
    result = invoke("evaluate", *args, "--json")
    assert result.exit_code == 0, result.output
    return result, json.loads(result.output.strip().splitlines()[-1])


def test_every_format_gives_the_metrics_of_the_scores(invoke, dataset, tmp_path):
    ids, scores, label = system_scores(dataset)
    expected = rank_metrics(scores, label)
    write_h5(tmp_path / "pbr.h5", "scores", {"ids": ids, "scores": scores, "label": label}, {})
    with h5py.File(tmp_path / "plain.h5", "w") as handle:
        handle["ids"], handle["scores"], handle["label"] = np.array(ids, dtype="S"), scores, label
    write_jsonl(tmp_path / "labelled.jsonl", ids, scores, label)
    write_jsonl(tmp_path / "bare.jsonl", ids, scores)
    runs = {
        "pbr": [tmp_path / "pbr.h5"],
        "plain": [tmp_path / "plain.h5"],
        "labelled": [tmp_path / "labelled.jsonl"],
        "bare": [tmp_path / "bare.jsonl", "--data", dataset.root, "--split", "test"],
    }
    for name, args in runs.items():
        result, metrics = evaluate_json(invoke, "--scores", *args)
        assert metrics["map"] == pytest.approx(expected["map"], abs=1e-6), name
        assert metrics["r10@1"] == pytest.approx(expected["r10@1"], abs=1e-6), name
        assert ("no pbr provenance" in " ".join(result.output.split())) == (name != "pbr"), name


def test_bare_rows_may_come_in_any_order(invoke, dataset, tmp_path):
    ids, scores, label = system_scores(dataset)
    order = np.random.default_rng(1).permutation(len(ids))
    write_jsonl(tmp_path / "shuffled.jsonl", [ids[i] for i in order], scores[order])
    _, metrics = evaluate_json(invoke, "--scores", tmp_path / "shuffled.jsonl", "--data", dataset.root)
    assert metrics["map"] == pytest.approx(rank_metrics(scores, label)["map"], abs=1e-6)


def _break(kind, ids, scores, label, dataset):
    """(lines of a broken JSONL, needle of the expected message, needs --data)."""
    rows = [{"id": i, "scores": s.tolist(), "label": int(t)} for i, s, t in zip(ids, scores, label)]
    bare = [{"id": r["id"], "scores": r["scores"]} for r in rows]
    if kind == "nan":
        return [json.dumps(rows[0]), json.dumps(rows[1]).replace(str(rows[1]["scores"][0]), "NaN", 1)], "line 2", False
    if kind == "short-row":
        return (
            [json.dumps(rows[0]), json.dumps({**rows[1], "scores": rows[1]["scores"][:-1]})],
            "9 scores where line 1 has 10",
            False,
        )
    if kind == "label-range":
        return [json.dumps({**rows[0], "label": 10})], "'label' must be the index", False
    if kind == "duplicate-id":
        return [json.dumps(rows[0]), json.dumps(rows[0])], "duplicate dialogue id", False
    if kind == "no-label":
        return [json.dumps(r) for r in bare], "--data DATASET", False
    if kind == "unknown-id":
        return [json.dumps({**bare[0], "id": "nope"})], "'nope' is not in the test split", True
    if kind == "wrong-count":
        return [json.dumps({**bare[0], "scores": bare[0]["scores"][:5]})], "5 scores, but dialogue", True
    if kind == "missing-dialogues":
        return [json.dumps(r) for r in bare[:-1]], f"no scores for 1 of the {len(ids)} test dialogues", True
    if kind == "wrong-label":
        return [json.dumps({**rows[0], "label": (int(label[0]) + 1) % 10})], "disagrees with the dataset", True
    if kind == "not-json":
        return ["{id: 1}"], "line 1: malformed JSON", False
    if kind == "huge-number":  # JSON integers have no limit; this one is beyond a float's
        return (
            [json.dumps(rows[0]), json.dumps({**rows[1], "scores": [10**400] + rows[1]["scores"][1:]})],
            ("line 2: 'scores' holds a number too large for a float"),
            False,
        )
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind",
    [
        "nan",
        "short-row",
        "label-range",
        "duplicate-id",
        "no-label",
        "unknown-id",
        "wrong-count",
        "missing-dialogues",
        "wrong-label",
        "not-json",
        "huge-number",
    ],
)
def test_bad_scores_file_is_refused_naming_it(invoke, dataset, tmp_path, kind):
    ids, scores, label = system_scores(dataset)
    lines, needle, with_data = _break(kind, ids, scores, label, dataset)
    path = tmp_path / "scores.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    args = ["--data", dataset.root, "--split", "test"] if with_data else []
    assert_refused(invoke("evaluate", "--scores", path, *args), str(path), needle)


@pytest.mark.parametrize("problem", ["no-label-dataset", "label-out-of-range", "nan", "duplicate-id"])
def test_bad_plain_hdf5_is_refused(invoke, dataset, tmp_path, problem):
    ids, scores, label = system_scores(dataset)
    path = tmp_path / "plain.h5"
    with h5py.File(path, "w") as handle:
        handle["ids"], handle["scores"] = np.array(ids, dtype="S"), scores
        if problem != "no-label-dataset":
            handle["label"] = label + (10 if problem == "label-out-of-range" else 0)
        if problem == "nan":
            handle["scores"][3, 2] = np.nan
        if problem == "duplicate-id":
            del handle["ids"]
            handle["ids"] = np.array([*ids[:-1], ids[0]], dtype="S")
    needle = {
        "no-label-dataset": "dataset 'label' is missing",
        "label-out-of-range": "'label' must index",
        "nan": "NaN or infinite values (row 3)",
        "duplicate-id": f"dataset 'ids' holds '{ids[0]}' twice",
    }[problem]
    assert_refused(invoke("evaluate", "--scores", path), str(path), needle)


def test_scores_for_other_stickers_than_the_candidates_are_refused(invoke, dataset, tmp_path):
    """A pbr scores file names the sticker each score is for: scores of other candidate sets (drawn again after
    the library changed) are refused, even where the truth keeps its place."""
    ids, scores, label = system_scores(dataset)
    candidates = [list(d.candidates) for d in dataset.split("test")]
    arrays = {"ids": ids, "scores": scores, "label": label}
    write_h5(tmp_path / "same.h5", "scores", {**arrays, "candidate_ids": np.array(candidates, dtype=object)}, {})
    evaluate_json(invoke, "--scores", tmp_path / "same.h5", "--data", dataset.root, "--split", "test")
    row = 1
    spot = next(i for i in range(len(candidates[row])) if i != label[row])
    other = next(i for i in range(len(candidates[row])) if i not in (label[row], spot))
    candidates[row][spot], candidates[row][other] = candidates[row][other], candidates[row][spot]
    write_h5(tmp_path / "other.h5", "scores", {**arrays, "candidate_ids": np.array(candidates, dtype=object)}, {})
    result = invoke("evaluate", "--scores", tmp_path / "other.h5", "--data", dataset.root, "--split", "test")
    assert_refused(result, str(tmp_path / "other.h5"), f"the scores of dialogue '{ids[row]}' are for other stickers")


def test_ids_are_read_alike_from_hdf5_and_json_lines(invoke, dataset, tmp_path):
    """Space around an id is dropped by the JSON-lines readers; HDF5 scores files read ids the same way."""
    ids, scores, label = system_scores(dataset)
    spaced = [f" {i} " for i in ids]
    with h5py.File(tmp_path / "plain.h5", "w") as handle:
        handle["ids"], handle["scores"], handle["label"] = np.array(spaced, dtype="S"), scores, label
    write_jsonl(tmp_path / "spaced.jsonl", spaced, scores, label)
    args = ["--data", dataset.root, "--split", "test"]
    _, from_h5 = evaluate_json(invoke, "--scores", tmp_path / "plain.h5", *args)
    _, from_jsonl = evaluate_json(invoke, "--scores", tmp_path / "spaced.jsonl", *args)
    assert from_h5["map"] == from_jsonl["map"] == pytest.approx(rank_metrics(scores, label)["map"])
