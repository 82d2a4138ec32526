"""Bad inputs through the CLI: each is refused with one `Error:` line naming the file or option and the
problem, a non-zero exit and no output written (no target file, no temporary file left beside it)."""

from __future__ import annotations

import errno
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from fixtures_data import edit_record, set_line
from helpers import TRAIN, assert_refused, module_cache, run_pbr, temp_files
from pbr_cli.data.pbrfolder import read_pbr_dataset
from pbr_cli.features import read_h5, write_h5
from synthetic import EMOTIONS, png_claiming, write_tiny_dataset

FIRST_STICKER = "stickers/t0/t0s0.png"  # line 1 of stickers.jsonl in write_tiny_dataset


# ---------------------------------------------------------------------------------------------------------------
# Shared inputs: a dataset, teacher features and anchors for it, a sentiment file, two trained runs


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """A dataset with teacher features of its stickers, anchors good and bad, and its sentiment file."""
    root = tmp_path_factory.mktemp("bad-inputs")
    with module_cache(root / "cache"):
        data = write_tiny_dataset(root / "data")
        ids = list(read_pbr_dataset(data).stickers)
        rng = np.random.default_rng(0)
        attrs = {"teacher_hash": "teacher-a", "dim": 16, "class_names": list(EMOTIONS)}
        write_h5(
            root / "feats.h5",
            "teacher_features",
            {"ids": ids, "features": rng.random((len(ids), 16)), "probs": rng.dirichlet(np.ones(7), len(ids))},
            attrs,
        )
        labels = np.repeat(np.arange(7), 2)  # two labelled images per emotion
        write_h5(
            root / "labelled_feats.h5",
            "teacher_features",
            {
                "ids": [f"img{i}" for i in range(14)],
                "features": rng.random((14, 16)),
                "probs": rng.dirichlet(np.ones(7), 14),
                "labels": labels,
            },
            attrs,
        )

        def anchors(name, dim=16, **extra):
            write_h5(
                root / name,
                "anchors",
                {"anchors": rng.random((14, dim)), "emotion": np.repeat(np.arange(7), 2)},
                {**attrs, "dim": dim, "M": 2, **extra},
            )

        anchors("anchors.h5")
        anchors("other_teacher_anchors.h5", teacher_hash="teacher-b")
        anchors("narrow_anchors.h5", dim=8)
        shutil.copy(root / "anchors.h5", root / "future_anchors.h5")
        with h5py.File(root / "future_anchors.h5", "a") as handle:
            handle.attrs["schema_version"] = 99
        result = run_pbr("score-sentiment", data, "-o", root / "sentiment.h5")
        assert result.exit_code == 0, result.output
    return {"root": root, "data": data}


@pytest.fixture(scope="module")
def runs(shared):
    """Two runs of the tiny model trained on the shared dataset with different seeds: different models."""
    root, data = shared["root"], shared["data"]
    with module_cache(root / "cache"):
        for name, seed in (("a", 0), ("b", 1)):
            result = run_pbr("--seed", seed, "train", "--data", data, "-o", root / "runs" / name, *TRAIN)
            assert result.exit_code == 0, result.output
    return root / "runs" / "a", root / "runs" / "b"


@pytest.fixture
def data(tmp_path):
    """A fresh tiny dataset a test may break."""
    return write_tiny_dataset(tmp_path / "data")


@pytest.fixture
def out(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


# ---------------------------------------------------------------------------------------------------------------
# 1-11: broken dataset files and images, met by `pbr train`


def malformed_json(data):
    set_line(data / "train.jsonl", 3, '{"id": "train2", "context": ["你好"')
    return "train.jsonl", "line 3", "malformed JSON"


def missing_field(data):
    edit_record(data / "train.jsonl", 4, sticker=None)
    return "train.jsonl", "line 4", "missing required field 'sticker'"


def unknown_sticker(data):
    edit_record(data / "val.jsonl", 2, sticker="no-such-sticker")
    return "val.jsonl", "line 2", "unknown sticker 'no-such-sticker'"


def missing_image(data):
    (data / FIRST_STICKER).unlink()
    return "stickers.jsonl", "line 1", FIRST_STICKER, "does not exist"


def truncated_png(data):
    image = data / FIRST_STICKER
    image.write_bytes(image.read_bytes()[: image.stat().st_size // 2])
    return FIRST_STICKER, "truncated"


def corrupt_image(data):
    (data / FIRST_STICKER).write_bytes(random.Random(0).randbytes(512))
    return FIRST_STICKER, "not a readable image"


def zero_byte_image(data):
    (data / FIRST_STICKER).write_bytes(b"")
    return FIRST_STICKER, "empty (0 bytes)"


def decompression_bomb(data):
    (data / FIRST_STICKER).write_bytes(png_claiming(9000, 9000))  # 81 Mpx, over the 64 Mpx limit
    return FIRST_STICKER, "9000x9000", "decompression bomb"


def parent_path(data):
    (data.parent / "x.png").write_bytes((data / FIRST_STICKER).read_bytes())
    edit_record(data / "stickers.jsonl", 1, path="../x.png")
    return "stickers.jsonl", "line 1", "'../x.png' leaves the dataset folder"


def absolute_path(data):
    outside = data.parent / "x.png"
    outside.write_bytes((data / FIRST_STICKER).read_bytes())
    edit_record(data / "stickers.jsonl", 1, path=str(outside))
    return "stickers.jsonl", "line 1", str(outside), "is absolute"


def symlink_out(data):
    outside = data.parent / "x.png"
    outside.write_bytes((data / FIRST_STICKER).read_bytes())
    (data / "stickers" / "t0" / "link.png").symlink_to(outside)
    edit_record(data / "stickers.jsonl", 1, path="stickers/t0/link.png")
    return "stickers.jsonl", "line 1", "symlink that resolves outside the dataset folder"


def empty_dialogue(data):
    edit_record(data / "val.jsonl", 5, context=["", "  "])  # train reads train and val, never test
    return "val.jsonl", "line 5", "empty context"


def non_utf8_text(data):
    lines = (data / "train.jsonl").read_bytes().splitlines(keepends=True)
    lines[5] = '{"id": "train5", "context": ["caf\xe9"], "sticker": "t0s1"}\n'.encode("latin-1")
    (data / "train.jsonl").write_bytes(b"".join(lines))
    return "train.jsonl", "line 6", "not UTF-8", "0xe9"


def lone_surrogate_id(data):
    set_line(data / "val.jsonl", 3, '{"id": "val\\udcff", "context": ["你好"], "sticker": "t0s1"}')
    return "val.jsonl", "line 3", "'id' holds an unpaired UTF-16 surrogate escape"


DATASET_CASES = [
    lone_surrogate_id,
    malformed_json,
    missing_field,
    unknown_sticker,
    missing_image,
    truncated_png,
    corrupt_image,
    zero_byte_image,
    decompression_bomb,
    parent_path,
    absolute_path,
    symlink_out,
    empty_dialogue,
    non_utf8_text,
]


@pytest.mark.parametrize("breaker", DATASET_CASES, ids=[case.__name__ for case in DATASET_CASES])
def test_broken_dataset_is_refused(invoke, data, out, breaker):
    needles = breaker(data)
    result = invoke("train", "--data", data, "-o", out / "run", *TRAIN)
    assert_refused(result, *needles, not_written=(out / "run",), folder=out)


# ---------------------------------------------------------------------------------------------------------------
# 12-13: HDF5 inputs of the wrong kind, schema version, dimension or teacher


@pytest.mark.parametrize(
    "anchors,needles",
    [
        ("sentiment.h5", ("sentiment.h5", "is a 'sentiment' file, expected 'anchors'")),
        ("future_anchors.h5", ("future_anchors.h5", "schema version 99 is not supported")),
        ("narrow_anchors.h5", ("narrow_anchors.h5", "dimension 8", "feats.h5", "16")),
        ("other_teacher_anchors.h5", ("other_teacher_anchors.h5", "another teacher", "teacher-b", "feats.h5")),
    ],
    ids=["wrong-kind", "schema-version", "dimension", "another-teacher"],
)
def test_mismatched_hdf5_input_is_refused(invoke, shared, out, anchors, needles):
    root = shared["root"]
    result = invoke(
        "train",
        "--data",
        shared["data"],
        "-o",
        out / "run",
        *TRAIN,
        "--anchors",
        root / anchors,
        "--teacher-features",
        root / "feats.h5",
    )
    assert_refused(result, *needles, not_written=(out / "run",), folder=out)


# 14: a sticker index made by another model


def test_index_from_another_model_is_refused(invoke, shared, runs, tmp_path, out):
    run_a, run_b = runs
    index = tmp_path / "index_b.h5"
    assert invoke("embed", shared["data"] / "stickers", "--model", run_b, "-o", index).exit_code == 0
    dialogue = tmp_path / "dialogue.txt"
    dialogue.write_text("你好\n我想要猫呀\n", encoding="utf-8")
    result = invoke("rank", dialogue, index, "--model", run_a, "--sheet", out / "sheet.png")
    assert_refused(result, "index_b.h5", "another model", not_written=(out / "sheet.png",), folder=out)


def test_index_built_at_another_resolution_is_refused(invoke, shared, runs, tmp_path, out):
    # the same weights reading stickers at another size (config.json edited) embed them differently
    index = tmp_path / "index_a.h5"
    assert invoke("embed", shared["data"] / "stickers", "--model", runs[0], "-o", index).exit_code == 0
    edited = tmp_path / "edited"
    shutil.copytree(runs[0], edited)
    config = json.loads((edited / "config.json").read_text(encoding="utf-8"))
    size = config["model"]["img_size"]
    config["model"]["img_size"] = size + 16
    (edited / "config.json").write_text(json.dumps(config), encoding="utf-8")
    dialogue = tmp_path / "dialogue.txt"
    dialogue.write_text("你好\n", encoding="utf-8")
    result = invoke("rank", dialogue, index, "--model", edited, "--json")
    assert_refused(result, "index_a.h5", f"built from {size}-px stickers, but this run reads {size + 16} px")
    assert invoke("rank", dialogue, index, "--model", runs[0], "--json").exit_code == 0


def test_sticker_file_name_that_is_not_utf8_is_refused(invoke, shared, runs, tmp_path, out):
    # Python keeps such a name's bytes as lone surrogates, which no output (HDF5, JSON, a sheet) can hold
    folder = tmp_path / "stickers"
    shutil.copytree(shared["data"] / "stickers", folder)
    first = sorted(folder.rglob("*.png"))[0]
    os.rename(first, os.path.join(os.fsencode(first.parent), b"bad\xff.png"))
    dialogue = tmp_path / "dialogue.txt"
    dialogue.write_text("你好\n", encoding="utf-8")
    for args in (
        ["embed", folder, "--model", runs[0], "-o", out / "index.h5"],
        ["rank", dialogue, folder, "--model", runs[0], "--json", "--sheet", out / "sheet.png"],
    ):
        result = invoke(*args)
        assert_refused(result, str(first.parent), "file name 'bad\\udcff.png' is not UTF-8", folder=out)
    assert list(out.iterdir()) == []


def test_dialogue_id_with_a_lone_surrogate_is_refused_and_a_pair_is_not(invoke, shared, runs, tmp_path, out):
    index = tmp_path / "index.h5"
    assert invoke("embed", shared["data"] / "stickers", "--model", runs[0], "-o", index).exit_code == 0
    dialogues = tmp_path / "dialogues.jsonl"
    dialogues.write_text('{"id": "\\ud83d\\ude00", "context": ["你好\\ud83d\\ude00"]}\n', encoding="utf-8")
    assert invoke("rank", dialogues, index, "--model", runs[0], "-o", out / "ok.jsonl").exit_code == 0
    assert json.loads((out / "ok.jsonl").read_text(encoding="utf-8"))["id"] == "\U0001f600"
    dialogues.write_text('{"id": "a", "context": ["你好"]}\n{"id": "\\udcff", "context": ["你好"]}\n', encoding="utf-8")
    result = invoke("rank", dialogues, index, "--model", runs[0], "-o", out / "bad.jsonl")
    assert_refused(result, "dialogues.jsonl", "line 2", "'id' holds an unpaired", not_written=(out / "bad.jsonl",))


# 15: more anchors per emotion than an emotion has images


def test_more_anchors_than_images_is_refused(invoke, shared, out):
    features = shared["root"] / "labelled_feats.h5"
    result = invoke("build-anchors", "--features", features, "--M", "5", "-o", out / "anchors.h5")
    assert_refused(
        result,
        "labelled_feats.h5",
        "emotion 'surprise' has 2 image(s), fewer than M=5",
        "--on-small-class shrink",
        not_written=(out / "anchors.h5",),
        folder=out,
    )


# 16: option values that make no sense


@pytest.mark.parametrize(
    "args,needles",
    [
        (["train", "--batch-size", "0"], ("--batch-size", "must be at least 1, got 0")),
        (["train", "--lr", "-1"], ("--lr", "must be positive, got -1")),
        (["build-anchors", "--M", "0"], ("--M", "0 is not in the range")),
        (["train", "--img", "no_such_tower"], ("unknown image tower 'no_such_tower'", "--img")),
    ],
    ids=["batch-size-0", "negative-lr", "zero-anchors", "unknown-tower"],
)
def test_nonsensical_option_is_refused(invoke, shared, out, args, needles):
    command, *options = args
    target = out / ("run" if command == "train" else "anchors.h5")
    source = (
        ["--data", shared["data"], *TRAIN]
        if command == "train"
        else ["--features", shared["root"] / "labelled_feats.h5"]
    )
    result = invoke(command, *source, *options, "-o", target)
    assert_refused(result, *needles, not_written=(target,), folder=out)


# 17-18: outputs that cannot be written


@pytest.mark.parametrize("problem", ["missing-folder", "read-only-folder"])
def test_unwritable_output_folder_is_refused(invoke, shared, tmp_path, problem):
    folder = tmp_path / "out"
    immutable = False
    if problem == "read-only-folder":
        folder.mkdir()
        folder.chmod(0o555)
        if os.access(folder, os.W_OK):  # root writes into a 0555 folder; an immutable one stops root too
            immutable = (
                shutil.which("chattr") is not None
                and subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode == 0
            )
            if not immutable:
                folder.chmod(0o755)
                pytest.skip("this user can write into a read-only folder and chattr +i is not available")
    try:
        result = invoke("score-sentiment", shared["data"], "-o", folder / "sentiment.h5")
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        if folder.exists():
            folder.chmod(0o755)
    what = "does not exist" if problem == "missing-folder" else "is not writable"
    assert_refused(result, str(folder), f"output folder {what}", not_written=(folder / "sentiment.h5",), folder=folder)


@pytest.mark.parametrize("kind", ["fifo", "link-to-dev-null"])
def test_output_onto_a_pipe_or_device_is_refused(invoke, shared, out, kind):
    # the output is renamed into place: onto a pipe or /dev/null that would replace it with a plain file
    target = out / "sentiment.h5"
    if kind == "fifo":
        os.mkfifo(target)
    else:
        target.symlink_to(os.devnull)
    result = invoke("score-sentiment", shared["data"], "-o", target)
    assert_refused(result, str(target), "output path is a device, pipe or socket")
    assert target.is_fifo() if kind == "fifo" else target.is_symlink() and Path(os.devnull).is_char_device()


@pytest.mark.parametrize("command", ["score-sentiment", "train"])
def test_full_disk_leaves_nothing_behind(invoke, shared, out, monkeypatch, command):
    def disk_full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", disk_full)  # where a full disk shows up when written data is flushed
    if command == "train":
        target = out / "run"
        result = invoke("train", "--data", shared["data"], "-o", target, *TRAIN)
    else:
        target = out / "sentiment.h5"
        result = invoke("score-sentiment", shared["data"], "-o", target)
    assert_refused(result, str(target), "no space left on device", not_written=(target,), folder=out)
    assert list(out.iterdir()) == []


# 19: pickled code where weights are expected


class CreatesMarker:
    """Unpickling this object creates a file: what a malicious checkpoint would do."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_pickled_code_in_weights_is_refused_and_not_run(invoke, shared, tmp_path, out):
    marker = tmp_path / "marker"
    evil = tmp_path / "evil.pt"
    torch.save({"state_dict": {"weight": torch.zeros(1), "payload": CreatesMarker(marker)}}, evil)
    result = invoke("train", "--data", shared["data"], "-o", out / "run", *TRAIN, "--img-weights", evil)
    assert_refused(result, "evil.pt", "pickled code", not_written=(out / "run",), folder=out)
    assert not marker.exists()


# 20: --skip-bad-images goes on, and says how many it skipped


@pytest.fixture
def teacher_checkpoint(tmp_path):
    from pbr_cli.teacher import Teacher, build_classifier

    return Teacher(*build_classifier("tiny", 32)).save(tmp_path / "teacher.pt")


@pytest.mark.parametrize("command", ["embed", "rank", "train"])
def test_skip_bad_images_reports_what_it_skipped(invoke, data, tmp_path, out, request, command):
    corrupt_image(data)
    if command == "embed":
        teacher = request.getfixturevalue("teacher_checkpoint")
        args = ["embed", data, "--teacher", teacher, "-o", out / "stickers_teacher.h5"]
    elif command == "rank":
        run_a, _ = request.getfixturevalue("runs")
        dialogue = tmp_path / "dialogue.txt"
        dialogue.write_text("你好\n", encoding="utf-8")
        args = ["rank", dialogue, data / "stickers", "--model", run_a]
    else:
        args = ["train", "--data", data, "-o", out / "run", *TRAIN]
    refused = invoke(*args)
    assert_refused(refused, FIRST_STICKER, "not a readable image", folder=out)
    result = invoke(*args, "--skip-bad-images")
    assert result.exit_code == 0, result.output
    assert "1 unreadable" in result.output, result.output
    if command == "embed":
        written = read_h5(out / "stickers_teacher.h5", "teacher_features")
        assert len(written) == 19 and "t0s0" not in written["ids"].tolist()
        assert written.attrs["skipped_images"] == 1


# 21: a writer killed mid-write leaves the old output (or none), never a half-written one
# The writer stalls after its first HDF5 dataset, so the kill lands mid-write every time, not by luck of timing.

SLOW_WRITER = """
import socket, sys, time
import h5py
assert getattr(socket.socket.connect, "_pbr_offline", False), "the child runs without the network guard"
create_dataset = h5py.Group.create_dataset
def create_then_stall(self, *args, **kwargs):
    dataset = create_dataset(self, *args, **kwargs)
    self.file.flush()
    time.sleep(120)  # killed here, half-way through the file
    return dataset
h5py.Group.create_dataset = create_then_stall
from pbr_cli.cli import main
sys.argv[0] = "pbr"
main()
"""


@pytest.mark.parametrize("existing", [False, True], ids=["new-output", "existing-output"])
def test_killed_writer_leaves_no_half_written_output(invoke, tmp_path, out, existing):
    contexts = tmp_path / "contexts.jsonl"
    rng = random.Random(0)
    words = ["今天", "开心", "难过", "下雨", "考试", "太好了", "好累", "哈哈"]
    contexts.write_text(
        "".join(
            json.dumps({"id": f"d{i}", "context": [" ".join(rng.choices(words, k=4))]}, ensure_ascii=False) + "\n"
            for i in range(20000)
        ),
        encoding="utf-8",
    )
    target = out / "sentiment.h5"
    before = None
    if existing:
        assert invoke("score-sentiment", contexts, "-o", target).exit_code == 0
        before = target.read_bytes()
    # the repository after the PYTHONPATH of the `offline` fixture, whose network guard goes first
    path = [os.environ["PYTHONPATH"], str(Path(__file__).resolve().parents[2])]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(path)}
    writer = subprocess.Popen(
        [sys.executable, "-c", SLOW_WRITER, "score-sentiment", str(contexts), "-o", str(target), "--workers", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not any(path.stat().st_size for path in temp_files(out)):
            assert writer.poll() is None, writer.stderr.read().decode()
            assert time.monotonic() < deadline, "the writer never started its output"
            time.sleep(0.01)
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
        writer.stderr.close()
    assert writer.returncode == -signal.SIGKILL
    assert len(temp_files(out)) == 1  # only the killed writer's own temporary file is left
    if existing:
        assert target.read_bytes() == before
        assert len(read_h5(target, "sentiment")) == 20000
    else:
        assert not target.exists()
    again = invoke("score-sentiment", contexts, "-o", target)  # a stale temporary file is no obstacle
    assert again.exit_code == 0, again.output
    assert len(read_h5(target, "sentiment")) == 20000


# 22: input files `pbr train` would not read: refused, whether they exist or not


def _file_args(shared, teacher, extra):
    root = shared["root"]
    files = {
        "feats": root / "feats.h5",
        "anchors": root / "anchors.h5",
        "sentiment": root / "sentiment.h5",
        "teacher": teacher,
        "missing": root / "nosuch.h5",
    }
    return [files[arg[1:]] if arg.startswith("@") else arg for arg in extra]


UNUSED_INPUT_CASES = {
    "missing-sentiment": (["--sentiment", "@missing"], ("'--sentiment'", "nosuch.h5", "does not exist")),
    "missing-features": (["--teacher-features", "@missing"], ("'--teacher-features'", "nosuch.h5", "does not exist")),
    "missing-teacher": (["--teacher", "@missing"], ("'--teacher'", "nosuch.h5", "does not exist")),
    "missing-anchors-ekd-off": (
        ["--anchors", "@missing", "--teacher-features", "@feats", "--ekd", "off"],
        ("'--anchors'", "nosuch.h5", "does not exist"),
    ),
    "sentiment-without-teacher": (
        ["--sentiment", "@sentiment"],
        ("--sentiment is only read with --negatives phsm", "--teacher-features FILE"),
    ),
    "sentiment-with-itc": (["--sentiment", "@sentiment", "--loss", "itc"], ("--sentiment", "--loss itc")),
    "sentiment-random-negatives": (
        ["--sentiment", "@sentiment", "--negatives", "random", "--teacher-features", "@feats", "--ekd", "logits"],
        ("--sentiment is only read with --negatives phsm", "--negatives random"),
    ),
    "features-without-ekd": (["--teacher-features", "@feats"], ("--teacher-features is only read", "--ekd off")),
    "teacher-without-ekd": (["--teacher", "@teacher"], ("--teacher is only read", "--ekd off")),
    "anchors-ekd-off": (
        ["--anchors", "@anchors", "--teacher-features", "@feats", "--ekd", "off"],
        ("--anchors is only read", "--ekd off"),
    ),
    "anchors-ekd-logits": (
        ["--anchors", "@anchors", "--teacher-features", "@feats", "--ekd", "logits"],
        ("--anchors is only read", "--ekd logits"),
    ),
    "word-vectors-with-bert": (["--word-vectors", "@sentiment"], ("--word-vectors", "lstm, gru and transformer")),
}


@pytest.mark.parametrize("case", list(UNUSED_INPUT_CASES))
def test_train_refuses_missing_or_unused_input_files(invoke, shared, teacher_checkpoint, out, case):
    extra, needles = UNUSED_INPUT_CASES[case]
    args = _file_args(shared, teacher_checkpoint, extra)
    result = invoke("train", "--data", shared["data"], "-o", out / "run", *TRAIN, *args)
    assert_refused(result, *needles, not_written=(out / "run",), folder=out)
    assert "decoding stickers" not in result.output  # refused before any data is read


def test_resume_refuses_input_files_it_would_not_read(invoke, shared, runs, out):
    run_a, _ = runs
    before = {path: path.read_bytes() for path in run_a.rglob("*") if path.is_file()}
    result = invoke("train", "--resume", run_a, "--sentiment", shared["root"] / "sentiment.h5")
    assert_refused(result, "--sentiment is not read with --resume", folder=run_a)
    assert {path: path.read_bytes() for path in run_a.rglob("*") if path.is_file()} == before


@pytest.mark.parametrize(
    "args, spelled",
    [
        (["--steps", "5"], "--steps"),
        (["-K", "2"], "--batch-size"),
        (["-o", "elsewhere"], "--out"),
        (["--lr", "0.01"], "--lr"),
        (["--intra"], "--intra"),
        (["--data", "."], "--data"),
    ],
)
def test_resume_refuses_every_other_train_option(invoke, runs, args, spelled):
    run_a, _ = runs
    before = {path: path.read_bytes() for path in run_a.rglob("*") if path.is_file()}
    result = invoke("train", "--resume", run_a, *args)
    assert_refused(
        result, f"{spelled} is not read with --resume: a resumed run continues with the options", folder=run_a
    )
    assert {path: path.read_bytes() for path in run_a.rglob("*") if path.is_file()} == before


# 23: --teacher must be the teacher that made --teacher-features, as in build-anchors


def test_train_refuses_a_teacher_other_than_the_features_one(invoke, shared, teacher_checkpoint, out):
    root = shared["root"]
    files = ["--teacher-features", root / "feats.h5", "--anchors", root / "anchors.h5", "--teacher", teacher_checkpoint]
    result = invoke("train", "--data", shared["data"], "-o", out / "run", *TRAIN, *files)
    assert_refused(
        result, "feats.h5: made by teacher teacher-a, but", str(teacher_checkpoint), not_written=(out / "run",)
    )
    assert temp_files(out) == []


def test_train_accepts_and_records_the_teacher_that_made_the_features(invoke, shared, teacher_checkpoint, out):
    features = out / "teacher_feats.h5"
    embedded = invoke("embed", shared["data"], "--teacher", teacher_checkpoint, "-o", features)
    assert embedded.exit_code == 0, embedded.output
    args = ["--teacher-features", features, "--teacher", teacher_checkpoint, "--ekd", "logits"]
    result = invoke("train", "--data", shared["data"], "-o", out / "run", *TRAIN, *args)
    assert result.exit_code == 0, result.output
    info = json.loads((out / "run" / "run.json").read_text(encoding="utf-8"))
    assert info["teacher"] == str(teacher_checkpoint.resolve()) and info["teacher_features"] == str(features)


def test_scores_out_with_another_suffix_than_h5_is_refused(invoke, tmp_path):
    """HDF5 written under a .jsonl name was read back as JSON lines by `evaluate --scores`, and failed."""
    result = invoke("evaluate", tmp_path / "run", "--scores-out", tmp_path / "scores.jsonl")
    assert result.exit_code == 2 and "the scores file is HDF5: name it .h5, not scores.jsonl" in result.output
    assert not (tmp_path / "scores.jsonl").exists()
