"""train -> evaluate -> rank end to end through the CLI on the tiny model and a small generated dataset."""

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from helpers import assert_refused, module_cache, run_pbr
from synthetic import write_tiny_dataset

TRAIN_ARGS = ["--steps", "4", "-K", "4", "--val-every", "2", "--img-size", "32"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    with module_cache(root / "cache"):
        data = write_tiny_dataset(root / "data")
        run = root / "runs" / "base"
        result = run_pbr("--seed", "3", "train", "--data", data, "-o", run, *TRAIN_ARGS, "--json")
        assert result.exit_code == 0, result.output
        clip = root / "runs" / "clip"
        result_clip = run_pbr("train", "--data", data, "-o", clip, "--loss", "itc", *TRAIN_ARGS, "--json")
        assert result_clip.exit_code == 0, result_clip.output
        yield {"root": root, "data": data, "run": run, "clip": clip, "summary": json.loads(result.stdout)}


def test_run_folder_is_self_describing(trained):
    run = trained["run"]
    for name in ("config.json", "tokenizer.json", "run.json", "best.safetensors", "last.safetensors", "metrics.jsonl"):
        assert (run / name).is_file(), name
    config = json.loads((run / "config.json").read_text())
    assert config["model"]["img_size"] == 32 and config["train"]["steps"] == 4
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    val_maps = [r["map"] for r in records if r.get("split") == "val"]
    assert len(val_maps) == 2 and trained["summary"]["best_val_map"] == max(val_maps)


def test_evaluate_writes_scores_and_reads_them_back(invoke, trained, tmp_path):
    scores_file = tmp_path / "scores.h5"
    result = invoke("evaluate", trained["run"], "--json", "--scores-out", scores_file)
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert metrics["n"] == 12 and metrics["candidates"] == 10
    with h5py.File(scores_file) as handle:
        assert handle.attrs["kind"] == "scores"
        assert handle["scores"].shape == (12, 10)
        scores, label = handle["scores"][()], handle["label"][()]
    # the metrics recomputed from the written scores: the truth's rank, ties as the mean over their orderings
    truth = scores[np.arange(len(label)), label][:, None]
    above, tied = (scores > truth).sum(1), (scores == truth).sum(1)
    average_precision = [np.mean([1 / (a + 1 + j) for j in range(t)]) for a, t in zip(above, tied)]
    assert metrics["map"] == pytest.approx(np.mean(average_precision)) and metrics["mrr"] == metrics["map"]
    for k in (1, 2, 5):
        assert metrics[f"r10@{k}"] == pytest.approx(np.mean([min(max(k - a, 0), t) / t for a, t in zip(above, tied)]))
    again = json.loads(invoke("evaluate", "--scores", scores_file, "--json").stdout)
    assert again["map"] == pytest.approx(metrics["map"])
    # options of a run's evaluation would be ignored by a scores file: refused
    for option, value in (("--score", "itc"), ("--which", "last"), ("--batch-size", "4"), ("--split", "val")):
        assert_refused(invoke("evaluate", "--scores", scores_file, option, value), f"{option} ")
    with_data = invoke("evaluate", "--scores", scores_file, "--data", trained["data"], "--split", "test", "--json")
    assert with_data.exit_code == 0 and json.loads(with_data.stdout)["map"] == pytest.approx(metrics["map"])


def test_evaluate_reads_only_the_split_it_scores(invoke, trained, tmp_path):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(trained["data"], data)
    (data / "train.jsonl").write_text("not json\n", encoding="utf-8")  # a broken split nobody scores
    result = invoke("evaluate", trained["run"], "--data", data, "--split", "val", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["candidates"] == 10


def test_evaluate_an_unknown_split_lists_the_splits_of_the_dataset(invoke, trained):
    result = invoke("evaluate", trained["run"], "--split", "nosuch")
    assert_refused(result, f"{trained['data']}: no 'nosuch' split (available: train, val, test)")


def test_checkpoint_round_trip_gives_identical_scores(invoke, trained, tmp_path, monkeypatch):
    """The val scores the training process computed with its in-memory model at its last step are the scores a
    new process computes from the saved checkpoint."""
    import os
    import subprocess
    import sys

    import pbr_cli.engine

    in_memory, rank_metrics = [], pbr_cli.engine.rank_metrics

    def keep_scores(scores, label, *args, **kwargs):
        in_memory.append(np.array(scores, copy=True))
        return rank_metrics(scores, label, *args, **kwargs)

    monkeypatch.setattr(pbr_cli.engine, "rank_metrics", keep_scores)  # validation ranks with it: ITM, then ITC
    run = tmp_path / "run"
    result = invoke(
        "train", "--data", trained["data"], "-o", run, "--steps", "2", "-K", "4", "--img-size", "32", "--val-every", "2"
    )
    assert result.exit_code == 0, result.output
    monkeypatch.undo()
    assert len(in_memory) == 2 and in_memory[0].shape == (12, 10)
    scores = tmp_path / "scores.h5"
    child = subprocess.run(
        [
            sys.executable,
            "-m",
            "pbr_cli.cli",
            "-q",
            "evaluate",
            str(run),
            "--which",
            "last",
            "--split",
            "val",
            "--scores-out",
            str(scores),
        ],
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode == 0, child.stderr
    with h5py.File(scores) as reloaded:
        np.testing.assert_allclose(reloaded["scores"][()], in_memory[0], rtol=1e-5, atol=1e-6)


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(A, B) cosine similarities of the rows of a and of b."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return (a @ b.T) / np.linalg.norm(a, axis=1)[:, None] / np.linalg.norm(b, axis=1)[None, :]


def test_clip_baseline_ranks_by_cosine(invoke, trained, tmp_path):
    """The CLIP run's ranking (evaluate's scores, rank's order) is the order of the cosine similarities of the
    embeddings its model gives for each dialogue and each sticker image, computed here."""
    import torch

    from pbr_cli.data.cache import decode_stickers
    from pbr_cli.data.types import Sticker
    from pbr_cli.model.run import load_run

    data = trained["data"]
    model, config, tokenizer, _ = load_run(trained["clip"])
    model.eval()
    stickers = [json.loads(line) for line in (data / "stickers.jsonl").read_text("utf-8").splitlines()]
    pixels, _ = decode_stickers(
        [Sticker(s["id"], s["topic"], data / s["path"]) for s in stickers], config.model.img_size
    )
    contexts = {d["id"]: d["context"] for d in map(json.loads, (data / "val.jsonl").read_text("utf-8").splitlines())}
    with torch.no_grad():
        images = model.encode_image(torch.from_numpy(pixels)).embedding.numpy()

    @torch.no_grad()
    def text(context):
        ids = torch.tensor([tokenizer.encode_dialogue(context, config.model.max_len)])
        return model.encode_text(ids, torch.ones_like(ids, dtype=torch.bool)).embedding.numpy()

    image_of = {s["id"]: images[i] for i, s in enumerate(stickers)}

    scores_file = tmp_path / "scores.h5"
    result = invoke("evaluate", trained["clip"], "--split", "val", "--score", "itc", "--scores-out", scores_file)
    assert result.exit_code == 0, result.output
    with h5py.File(scores_file) as handle:
        ids, scores = handle["ids"].asstr()[()], handle["scores"][()]
        candidate_ids = handle["candidate_ids"].asstr()[()]
    for row, (dialogue, candidates) in enumerate(zip(ids, candidate_ids)):
        expected = cosine(text(contexts[dialogue]), [image_of[c] for c in candidates])[0]
        np.testing.assert_allclose(scores[row], expected, atol=1e-5)
        assert list(np.argsort(-scores[row], kind="stable")) == list(np.argsort(-expected, kind="stable"))

    context = contexts[ids[0]]
    dialogue_file = tmp_path / "dialogue.txt"
    dialogue_file.write_text("\n".join(context) + "\n", encoding="utf-8")
    ranked = invoke(
        "rank",
        dialogue_file,
        data / "stickers",
        "--model",
        trained["clip"],
        "--score",
        "itc",
        "--top",
        str(len(stickers)),
        "--json",
    )
    assert ranked.exit_code == 0, ranked.output
    similarities = cosine(text(context), images)[0]
    by_cosine = [stickers[i]["id"] for i in np.argsort(-similarities, kind="stable")]
    assert [row["id"].rsplit("/", 1)[-1] for row in json.loads(ranked.stdout)["stickers"]] == by_cosine

    refused = invoke("evaluate", trained["clip"], "--score", "itm")
    assert refused.exit_code != 0 and "itc" in refused.output


def test_rank_a_folder(invoke, trained, tmp_path):
    dialogue = tmp_path / "dialogue.txt"
    dialogue.write_text("你好\n我想要猫呀\n", encoding="utf-8")
    result = invoke("rank", dialogue, trained["data"] / "stickers", "--model", trained["run"], "--top", "5", "--json")
    assert result.exit_code == 0, result.output
    ranked = json.loads(result.stdout)["stickers"]
    assert [r["rank"] for r in ranked] == [1, 2, 3, 4, 5]
    scores = [r["score"] for r in ranked]
    assert scores == sorted(scores, reverse=True)
    table = invoke("rank", dialogue, trained["data"] / "stickers", "--model", trained["run"])
    assert table.exit_code == 0 and "stickers ranked" in table.output


def test_checkpoint_from_another_configuration_is_refused(invoke, trained, tmp_path):
    mixed = tmp_path / "mixed"
    shutil.copytree(trained["run"], mixed)
    shutil.copy(trained["clip"] / "best.safetensors", mixed / "best.safetensors")
    result = invoke("evaluate", mixed)
    assert result.exit_code != 0
    assert "another configuration" in result.output and "best.safetensors" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "args,message",
    [
        (["--steps", "0"], "at least 1"),
        (["--lr", "-1"], "must be positive"),
        (["-K", "0"], "at least 1"),
        (["--img", "no_such_tower_xyz", "--steps", "1"], "unknown image tower"),
    ],
)
def test_bad_training_options(invoke, trained, tmp_path, args, message):
    out = tmp_path / "run"
    result = invoke("train", "--data", trained["data"], "-o", out, *args)
    assert result.exit_code != 0
    assert message in result.output
    assert not (out / "config.json").exists()


def test_existing_run_is_not_overwritten(invoke, trained):
    result = invoke("train", "--data", trained["data"], "-o", trained["run"], *TRAIN_ARGS)
    assert result.exit_code != 0 and "already exists" in result.output


def test_rank_errors(invoke, trained, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    result = invoke("rank", empty, trained["data"] / "stickers", "--model", trained["run"])
    assert result.exit_code != 0 and "empty" in result.output and str(empty) in result.output
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("caf\xe9".encode("latin-1"))
    result = invoke("rank", latin, trained["data"] / "stickers", "--model", trained["run"])
    assert result.exit_code != 0 and "UTF-8" in result.output
    dialogue = tmp_path / "ok.txt"
    dialogue.write_text("你好\n", encoding="utf-8")
    result = invoke("rank", dialogue, trained["data"] / "stickers", "--model", tmp_path / "nope")
    assert result.exit_code != 0 and "run folder" in result.output


@pytest.mark.parametrize("name", ["dialogues.JSONL", "dialogues.json", "dialogues.Json"])
def test_rank_reads_json_dialogue_files_whatever_the_suffix_case(invoke, trained, tmp_path, name):
    dialogues = tmp_path / name
    dialogues.write_text('{"id": "a", "context": ["你好"]}\n{"id": "b", "context": ["好烦啊"]}\n', encoding="utf-8")
    result = invoke("rank", dialogues, trained["data"] / "stickers", "--model", trained["run"], "--json")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert [record["id"] for record in records] == ["a", "b"] and all(len(r["stickers"]) == 10 for r in records)


@pytest.mark.parametrize(
    "text,needle",
    [
        ('{\n  "id": "a",\n  "context": ["你好"]\n}\n', "line 1: malformed JSON"),
        ('[{"id": "a", "context": ["你好"]}]\n', "line 1: expected a JSON object, got array"),
    ],
)
def test_rank_refuses_a_json_file_that_is_not_json_lines(invoke, trained, tmp_path, text, needle):
    dialogues = tmp_path / "dialogues.json"
    dialogues.write_text(text, encoding="utf-8")
    before = dialogues.read_bytes()
    result = invoke("rank", dialogues, trained["data"] / "stickers", "--model", trained["run"])
    assert_refused(result, f"{dialogues}: {needle}", "read as JSON lines: one object per line", folder=tmp_path)
    assert dialogues.read_bytes() == before


def test_embed_index_then_rank_from_it(invoke, trained, tmp_path):
    index = tmp_path / "index.h5"
    result = invoke("embed", trained["data"] / "stickers", "--model", trained["run"], "-o", index, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["stickers"] == 20 and summary["tokens"] is True
    with h5py.File(index) as handle:
        assert handle.attrs["kind"] == "sticker_index"
        assert handle["embeddings"].dtype == np.float16 and handle["embeddings"].shape == (20, 64)
        norms = np.linalg.norm(handle["embeddings"][()].astype(np.float32), axis=1)
        np.testing.assert_allclose(norms, 1.0, atol=1e-2)
    dialogue = tmp_path / "dialogue.txt"
    dialogue.write_text("你好\n我想要猫呀\n", encoding="utf-8")
    from_index = json.loads(invoke("rank", dialogue, index, "--model", trained["run"], "--json").stdout)
    from_folder = json.loads(
        invoke("rank", dialogue, trained["data"] / "stickers", "--model", trained["run"], "--json").stdout
    )
    assert [s["id"] for s in from_index["stickers"]][:3] == [s["id"] for s in from_folder["stickers"]][:3]
    # an index without image tokens re-decodes the top k and gives the same order
    slim = tmp_path / "slim.h5"
    assert (
        invoke("embed", trained["data"] / "stickers", "--model", trained["run"], "-o", slim, "--no-tokens").exit_code
        == 0
    )
    from_slim = json.loads(invoke("rank", dialogue, slim, "--model", trained["run"], "--json").stdout)
    assert [s["id"] for s in from_slim["stickers"]][:3] == [s["id"] for s in from_index["stickers"]][:3]


def test_skip_bad_images_with_an_index_without_image_tokens(invoke, trained, tmp_path):
    # such an index re-reads its images for ITM: one gone since must be left out (counted), or stop the ranking
    stickers = tmp_path / "stickers"
    shutil.copytree(trained["data"] / "stickers", stickers)
    slim = tmp_path / "slim.h5"
    assert invoke("embed", stickers, "--model", trained["run"], "-o", slim, "--no-tokens").exit_code == 0
    dialogue = tmp_path / "dialogue.txt"
    dialogue.write_text("你好\n我想要猫呀\n", encoding="utf-8")
    before = json.loads(invoke("rank", dialogue, slim, "--model", trained["run"], "--json", "--top", "5").stdout)
    gone = before["stickers"][0]
    Path(gone["path"]).unlink()
    assert_refused(invoke("rank", dialogue, slim, "--model", trained["run"], "--json"), "image file not found")
    result = invoke("rank", dialogue, slim, "--model", trained["run"], "--json", "--top", "4", "--skip-bad-images")
    assert result.exit_code == 0, result.output
    after = json.loads(result.stdout)
    assert after["skipped"] == 1 and [s["id"] for s in after["stickers"]] == [s["id"] for s in before["stickers"][1:]]


def test_skip_bad_images_leaves_out_a_dataset_sticker_whose_file_is_gone(invoke, trained, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(trained["data"], data)
    first = json.loads((data / "stickers.jsonl").read_text(encoding="utf-8").splitlines()[0])
    gone = data / first["path"]
    gone.unlink()
    assert_refused(invoke("train", "--data", data, *TRAIN_ARGS, "-o", tmp_path / "refused"), "does not exist")
    assert not (tmp_path / "refused").exists()
    result = invoke("train", "--data", data, *TRAIN_ARGS, "-o", tmp_path / "run", "--skip-bad-images")
    assert result.exit_code == 0, result.output
    assert f"1 unreadable sticker image(s) replaced by blank images, e.g. {gone}" in " ".join(result.output.split())
    from pbr_cli.teacher import Teacher, build_classifier

    Teacher(*build_classifier("tiny", 16)).save(tmp_path / "teacher.pt")  # untrained: its features suffice
    for args in (["--model", trained["run"]], ["--teacher", tmp_path / "teacher.pt"]):
        result = invoke("embed", data, *args, "-o", tmp_path / "out.h5", "--skip-bad-images")
        assert result.exit_code == 0, result.output
        assert f"skipped 1 unreadable image(s), e.g. {gone}" in " ".join(result.output.split())


def test_index_from_another_model_is_refused(invoke, trained, tmp_path):
    index = tmp_path / "index.h5"
    assert invoke("embed", trained["data"] / "stickers", "--model", trained["clip"], "-o", index).exit_code == 0
    dialogue = tmp_path / "dialogue.txt"
    dialogue.write_text("你好\n", encoding="utf-8")
    result = invoke("rank", dialogue, index, "--model", trained["run"])
    assert result.exit_code != 0 and "another model" in result.output and "index.h5" in result.output


def test_embed_needs_exactly_one_model(invoke, trained, tmp_path):
    result = invoke("embed", trained["data"] / "stickers")
    assert result.exit_code != 0 and "--teacher FILE or --model RUN" in result.output


@pytest.mark.parametrize(
    "img,txt",
    [
        ("resnet", "transformer"),
        ("inception", "transformer"),
        ("inception", "gru"),
        ("inception", "lstm"),
        ("vit", "bert"),
    ],
)
def test_table1_backbone_pairs_train_and_evaluate(invoke, trained, tmp_path, img, txt):
    run = tmp_path / f"{img}-{txt}"
    result = invoke(
        "train",
        "--data",
        trained["data"],
        "-o",
        run,
        "--img",
        img,
        "--txt",
        txt,
        "--steps",
        "2",
        "-K",
        "2",
        "--val-every",
        "2",
        "--val-limit",
        "4",
        "--json",
    )
    assert result.exit_code == 0, result.output
    config = json.loads((run / "config.json").read_text())["model"]
    assert config["img"] == img and config["txt"] == txt
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert all(np.isfinite(r["loss"]) for r in records if "loss" in r)


def test_compile_changes_nothing_but_speed(invoke, trained, tmp_path, monkeypatch):
    monkeypatch.setenv("PBR_COMPILE_BACKEND", "eager")  # the code path of torch.compile, without codegen
    runs = {}
    for name, flag in (("eager", "--no-compile"), ("compiled", "--compile")):
        run = tmp_path / name
        result = invoke(
            "--seed",
            "4",
            "train",
            "--data",
            trained["data"],
            "-o",
            run,
            "--steps",
            "2",
            "-K",
            "4",
            "--img-size",
            "32",
            "--log-every",
            "1",
            flag,
            "--json",
        )
        assert result.exit_code == 0, result.output
        runs[name] = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if '"loss"' in line]
    for a, b in zip(runs["eager"], runs["compiled"]):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-5)
    import torch
    from safetensors.torch import load_file

    # the weights after the last step (no loss reads them) and every buffer, BatchNorm statistics included
    eager = load_file(str(tmp_path / "eager" / "last.safetensors"))
    compiled = load_file(str(tmp_path / "compiled" / "last.safetensors"))
    assert eager.keys() == compiled.keys()
    for name, value in eager.items():
        torch.testing.assert_close(compiled[name], value, rtol=1e-5, atol=1e-6, msg=name)


def test_sheet_warns_of_a_sticker_image_it_cannot_draw(invoke, trained, tmp_path):
    stickers = tmp_path / "stickers"
    shutil.copytree(trained["data"] / "stickers", stickers)
    index = tmp_path / "index.h5"
    assert invoke("embed", stickers, "--model", trained["run"], "-o", index).exit_code == 0
    dialogue = tmp_path / "dialogue.txt"
    dialogue.write_text("你好\n", encoding="utf-8")
    ranked = json.loads(invoke("rank", dialogue, index, "--model", trained["run"], "--json", "--top", "1").stdout)
    Path(ranked["stickers"][0]["path"]).unlink()  # the index has the image tokens: ranking needs no image
    result = invoke("rank", dialogue, index, "--model", trained["run"], "--sheet", tmp_path / "sheet.png")
    assert result.exit_code == 0 and (tmp_path / "sheet.png").is_file(), result.output
    assert f"warning: {ranked['stickers'][0]['path']}: image file not found; drawn as a grey square" in result.output
