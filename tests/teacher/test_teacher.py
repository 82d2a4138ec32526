"""The emotion teacher: training beats the majority class, safe checkpoints, `teacher-train` and `embed --teacher`."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers import assert_refused, run_pbr
from pbr_cli.emotions import EMOTIONS
from pbr_cli.errors import FormatError
from pbr_cli.features import read_h5
from pbr_cli.teacher import Teacher, build_classifier, load_init_weights, load_teacher
from synthetic import write_emotion_images

TEACHER_ARGS = ["--arch", "tiny", "--img-size", "32", "--batch-size", "14"]


@pytest.fixture(scope="module")
def teacher_run(tmp_path_factory):
    """A tiny teacher trained through the CLI on root/{train,val}/<emotion>/*: (data, checkpoint, report)."""
    root = tmp_path_factory.mktemp("teacher")
    data = root / "emotions"
    write_emotion_images(data / "train", per_class=8, seed=0)
    write_emotion_images(data / "val", per_class=3, seed=1)
    checkpoint = root / "teacher.pt"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny convolutions: one thread is as fast, and far faster on a busy machine
    try:
        result = run_pbr(
            "teacher-train", data, *TEACHER_ARGS, "--epochs", "8", "--lr", "3e-3", "-o", checkpoint, "--json"
        )
    finally:
        torch.set_num_threads(threads)
    assert result.exit_code == 0, result.output
    return data, checkpoint, json.loads(result.stdout)


def evil_pickle(marker: Path) -> bytes:
    """A pickle that creates `marker` when unpickled."""

    class CreatesMarker:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    return pickle.dumps({"state_dict": CreatesMarker()}, protocol=2)


def test_teacher_train_beats_the_majority_class(teacher_run):
    _, checkpoint, report = teacher_run
    val = report["splits"]["val"]
    assert report["output"] == str(checkpoint) and checkpoint.is_file()
    assert val["n"] == 21 and val["majority_baseline"] == pytest.approx(1 / 7)
    assert val["accuracy"] > val["majority_baseline"] + 0.3
    assert set(val["per_class"]) == set(EMOTIONS)
    assert all(0.0 <= value <= 1.0 for value in val["per_class"].values())
    assert np.array(val["confusion"]).shape == (7, 7) and np.array(val["confusion"]).sum() == 21
    assert report["selected_on"] == "val accuracy, ties by val loss" and 1 <= report["best_epoch"] <= 8
    assert report["init"] == "random" and report["feature_dim"] == 96 and len(report["teacher_hash"]) == 16


def test_the_kept_epoch_has_the_best_val_accuracy_and_among_ties_the_lowest_val_loss(teacher_run):
    _, _, report = teacher_run
    history = report["history"]
    assert all({"val_accuracy", "val_loss"} <= set(record) for record in history)
    best = max(history, key=lambda record: (record["val_accuracy"], -record["val_loss"]))
    assert report["best_epoch"] == best["epoch"]
    assert report["splits"]["val"]["accuracy"] == pytest.approx(best["val_accuracy"])


def test_checkpoint_round_trip_gives_identical_features(teacher_run, tmp_path):
    _, checkpoint, report = teacher_run
    teacher = load_teacher(checkpoint)
    images = np.random.default_rng(0).integers(0, 256, size=(5, 32, 32, 3), dtype=np.uint8)
    features, probs = teacher.encode(images)
    assert features.shape == (5, teacher.dim) and probs.shape == (5, 7)
    torch.testing.assert_close(probs.sum(dim=1), torch.ones(5))
    assert teacher.hash == report["teacher_hash"] and teacher.info["splits"]["val"]["n"] == 21

    copy = load_teacher(teacher.save(tmp_path / "copy.pt"))
    assert copy.hash == teacher.hash and copy.config == teacher.config
    assert torch.equal(copy.features(images), features)
    assert torch.equal(copy.features(list(images)), features)  # list of HWC arrays
    assert torch.equal(copy.features(torch.from_numpy(images).permute(0, 3, 1, 2)), features)  # (B, 3, H, W)


def test_pickled_files_are_refused_and_never_run(invoke, teacher_run, tmp_path):
    data, _, _ = teacher_run
    proof = tmp_path / "proof"
    pickle.loads(evil_pickle(proof))
    assert proof.exists()  # the payload works when unpickled naively
    marker = tmp_path / "marker"
    evil = tmp_path / "evil.pt"
    evil.write_bytes(evil_pickle(marker))
    with pytest.raises(FormatError, match="evil.pt"):
        load_teacher(evil)
    result = invoke("embed", data, "--teacher", evil, "-o", tmp_path / "out.h5")
    assert result.exit_code == 1 and "evil.pt" in result.output
    result = invoke("teacher-train", data, *TEACHER_ARGS, "--init", evil, "-o", tmp_path / "t.pt")
    assert result.exit_code == 1 and "evil.pt" in result.output
    assert not marker.exists() and not (tmp_path / "out.h5").exists() and not (tmp_path / "t.pt").exists()


def test_corrupt_or_foreign_checkpoints_are_refused(teacher_run, tmp_path):
    from safetensors.torch import save_file

    _, checkpoint, _ = teacher_run
    content = checkpoint.read_bytes()
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(content[: len(content) // 2])
    with pytest.raises(FormatError, match="truncated.pt: not a pbr teacher checkpoint"):
        load_teacher(truncated)
    modified = tmp_path / "modified.pt"
    modified.write_bytes(content[:-1] + bytes([content[-1] ^ 0xFF]))
    with pytest.raises(FormatError, match="content hash does not match"):
        load_teacher(modified)
    foreign = tmp_path / "foreign.safetensors"
    save_file({"weight": torch.zeros(2)}, str(foreign))
    with pytest.raises(FormatError, match="not a pbr teacher checkpoint"):
        load_teacher(foreign)


def test_init_weights_load_everything_but_the_classifier(tmp_path):
    import timm
    from safetensors.torch import save_file

    imagenet = timm.create_model("test_resnet", pretrained=False, num_classes=1000)
    weights = tmp_path / "imagenet.safetensors"
    save_file({k: v.contiguous() for k, v in imagenet.state_dict().items()}, str(weights))
    model, _ = build_classifier("tiny", 32)
    info = load_init_weights(model, weights)
    assert info["loaded"] == len(imagenet.state_dict()) - 2 and info["missing"] == 0  # fc.weight, fc.bias
    torch.testing.assert_close(model.conv1[0].weight, imagenet.conv1[0].weight)
    assert model.fc.weight.shape == (7, 96)


def test_a_pbr_teacher_checkpoint_is_an_init_for_teacher_train(invoke, tmp_path):
    """teacher-train writes safetensors under the name teacher.pt; --init tells the format by content."""
    model, config = build_classifier("tiny", 32)
    checkpoint = Teacher(model, config).save(tmp_path / "teacher.pt")
    fresh, _ = build_classifier("tiny", 32)
    info = load_init_weights(fresh, checkpoint)
    assert info["loaded"] == len(model.state_dict()) - 2 and info["missing"] == 0  # all but fc.weight, fc.bias
    torch.testing.assert_close(fresh.conv1[0].weight, model.conv1[0].weight)
    write_emotion_images(tmp_path / "data", per_class=2)
    output = tmp_path / "again.pt"
    result = invoke(
        "teacher-train", tmp_path / "data", *TEACHER_ARGS, "--epochs", "1", "--init", checkpoint, "-o", output, "--json"
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["init"]["loaded"] == info["loaded"] and load_teacher(output).dim == 96
    assert "warning:" not in result.stderr  # every emotion has training images


def test_teacher_train_warns_about_emotions_without_training_images(invoke, tmp_path):
    data = write_emotion_images(tmp_path / "data", per_class=2)
    for emotion in ("fear", "surprise"):
        shutil.rmtree(data / emotion)
    result = invoke("teacher-train", data, *TEACHER_ARGS, "--epochs", "1", "-o", tmp_path / "t.pt")
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [
        f"warning: {data.absolute()}: no training images for surprise, fear; the teacher cannot learn these emotions"
    ], result.stderr


def test_teacher_train_warns_of_test_images_that_are_training_images_again(invoke, tmp_path):
    data = tmp_path / "data"
    write_emotion_images(data / "train", per_class=3, seed=0)
    write_emotion_images(data / "test", per_class=2, seed=1)
    shutil.copy(data / "train" / "anger" / "0_1.png", data / "test" / "anger" / "copy.png")
    result = invoke("teacher-train", data, *TEACHER_ARGS, "--epochs", "1", "-o", tmp_path / "t.pt")
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and warnings[0].startswith("warning: 1 of the 15 test images are training images again")
    assert "copy.png" in warnings[0] and "0_1.png" in warnings[0], warnings


def test_a_set_with_a_test_split_but_no_val_holds_val_out_of_train(invoke, tmp_path):
    data = tmp_path / "data"
    write_emotion_images(data / "train", per_class=4, seed=0)
    write_emotion_images(data / "test", per_class=2, seed=1)
    out = tmp_path / "t.pt"
    result = invoke("teacher-train", data, *TEACHER_ARGS, "--epochs", "1", "-o", out, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report["splits"]) == {"val", "test"} and report["selected_on"].startswith("val accuracy")
    assert report["splits"]["val"]["n"] + sum(report["train_counts"].values()) == 28
    assert "no val split; 7 training images held out as val to choose the epoch" in " ".join(result.stderr.split())


@pytest.mark.parametrize("options", [["--which", "last"], ["--which", "best"], ["--no-tokens"]])
def test_embed_with_a_teacher_refuses_the_options_of_a_run(invoke, tmp_path, options):
    write_emotion_images(tmp_path / "data", per_class=1)
    output = tmp_path / "out.h5"
    result = invoke("embed", tmp_path / "data", "--teacher", tmp_path / "teacher.pt", *options, "-o", output)
    assert_refused(result, f"{options[0]} applies to --model only", not_written=(output,), folder=tmp_path)
    assert result.exit_code == 2


def test_embed_writes_teacher_features_with_labels_and_splits(invoke, teacher_run, tmp_path):
    data, checkpoint, report = teacher_run
    output = tmp_path / "ser_teacher.h5"
    result = invoke("embed", data, "--teacher", checkpoint, "-o", output, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["images"] == 77 and summary["labelled"] == 77 and summary["skipped"] == 0
    assert summary["splits"] == {"train": [0, 56], "val": [56, 77]}
    features = read_h5(output, "teacher_features", dim=96)
    assert features["features"].shape == (77, 96) and features["features"].dtype == np.float32
    np.testing.assert_allclose(features["probs"].sum(axis=1), 1.0, rtol=1e-5)
    assert sorted(set(features["labels"].tolist())) == list(range(7))
    assert features.attrs["teacher_hash"] == report["teacher_hash"] and len(features["paths"]) == 77


def test_embed_unreadable_images_error_or_skip(invoke, teacher_run, tmp_path):
    _, checkpoint, _ = teacher_run
    folder = tmp_path / "stickers"  # a plain folder: topics, no emotion labels
    write_emotion_images(tmp_path / "source", per_class=1)
    (folder / "cat").mkdir(parents=True)
    for image in sorted((tmp_path / "source").rglob("*.png")):
        image.rename(folder / "cat" / f"{image.parent.name}.png")
    (folder / "cat" / "broken.png").write_bytes(b"not an image at all")
    output = tmp_path / "stickers.h5"
    failed = invoke("embed", folder, "--teacher", checkpoint, "-o", output)
    assert failed.exit_code == 1 and "broken.png" in failed.output and not output.exists()
    skipped = invoke("embed", folder, "--teacher", checkpoint, "-o", output, "--skip-bad-images", "--json")
    assert skipped.exit_code == 0, skipped.output
    summary = json.loads(skipped.stdout)
    assert summary["images"] == 7 and summary["skipped"] == 1 and summary["labelled"] == 0
    written = read_h5(output, "teacher_features")
    assert "cat/broken" not in written["ids"].tolist() and "labels" not in written
    assert set(written["topics"].tolist()) == {"cat"}


def test_embed_needs_a_model_and_teacher_train_a_known_arch(invoke, tmp_path):
    assert invoke("embed", tmp_path).exit_code == 2
    write_emotion_images(tmp_path / "data", per_class=1)
    result = invoke("teacher-train", tmp_path / "data", "--arch", "no_such_net", "-o", tmp_path / "t.pt")
    assert result.exit_code == 2 and "unknown teacher architecture 'no_such_net'" in result.output
    assert "note:" not in result.output  # refused before any work or notice


def test_embed_refuses_a_default_output_that_is_its_teacher_and_ids_listed_twice(
    invoke, teacher_run, tmp_path, monkeypatch
):
    from fixtures_data import write_json, write_ser30k

    _, checkpoint, _ = teacher_run
    images = write_emotion_images(tmp_path / "images", per_class=1)
    shutil.copy(checkpoint, tmp_path / "stickers_teacher.h5")  # the name -o defaults to, in the working folder
    before = (tmp_path / "stickers_teacher.h5").read_bytes()
    monkeypatch.chdir(tmp_path)
    result = invoke("embed", images / "anger", "--teacher", "stickers_teacher.h5")
    assert_refused(result, "--output (default stickers_teacher.h5) names the input")
    assert (tmp_path / "stickers_teacher.h5").read_bytes() == before
    ser = write_ser30k(tmp_path / "ser")
    split_files = ser / "Annotations" / "image-level"
    train = json.loads((split_files / "train.json").read_text(encoding="utf-8"))["annotations"]
    test = json.loads((split_files / "test.json").read_text(encoding="utf-8"))["annotations"]
    write_json(split_files / "test.json", {"annotations": [*test, train[0]]})  # one image in two splits
    result = invoke("embed", ser, "--teacher", checkpoint, "-o", tmp_path / "f.h5")
    assert_refused(result, "is listed twice (train and test)")
    assert not (tmp_path / "f.h5").exists()


@pytest.mark.parametrize(
    "option,value,needle",
    [
        ("--lr", "nan", "must be a finite number, got nan"),
        ("--lr", "inf", "must be a finite number, got inf"),
        ("--hue", "nan", "must be a finite number, got nan"),
        ("--ema", "nan", "must be a finite number, got nan"),
        ("--img-size", "100000", "16<=x<=4096"),
    ],
)
def test_teacher_train_refuses_non_finite_and_huge_option_values(invoke, tmp_path, option, value, needle):
    output = tmp_path / "t.pt"
    result = invoke("teacher-train", tmp_path, *TEACHER_ARGS, option, value, "-o", output)
    assert result.exit_code == 2  # a usage error, as for --lr 0
    assert_refused(result, f"'{option}'", needle, not_written=(output,), folder=tmp_path)


def test_a_diverged_teacher_is_a_training_error_not_an_output_error(invoke, teacher_run, tmp_path):
    data, _, _ = teacher_run
    output = tmp_path / "t.pt"
    # one step per epoch: the step's loss (of the initial weights) is finite, the val loss after it is not
    args = ["--arch", "tiny", "--img-size", "32", "--batch-size", "56", "--epochs", "1", "--lr", "1e30"]
    result = invoke("teacher-train", data, *args, "-o", output)
    assert_refused(result, "val loss became", "no teacher was written", "try a lower --lr", not_written=(output,))
    assert "JSON" not in result.output and str(output) not in result.output
    assert list(tmp_path.iterdir()) == []


def test_teacher_outputs_are_frozen():
    teacher = Teacher(*build_classifier("tiny", 32))
    assert not any(parameter.requires_grad for parameter in teacher.model.parameters())
    assert not teacher.model.training


def test_a_moving_average_of_the_weights_is_what_is_validated_and_kept(teacher_run, tmp_path):
    data, plain, plain_report = teacher_run
    checkpoint = tmp_path / "average.pt"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = run_pbr(
            "teacher-train", data, *TEACHER_ARGS, "--epochs", "8", "--lr", "3e-3", "--ema", "0.9",
            "-o", checkpoint, "--json",
        )  # fmt: skip
    finally:
        torch.set_num_threads(threads)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ema"] == 0.9 and plain_report["ema"] == 0.0
    best = max(report["history"], key=lambda record: (record["val_accuracy"], -record["val_loss"]))
    assert report["best_epoch"] == best["epoch"]
    assert report["splits"]["val"]["accuracy"] == pytest.approx(best["val_accuracy"])
    assert report["splits"]["val"]["accuracy"] > report["splits"]["val"]["majority_baseline"] + 0.3
    # the same seed and data: the kept weights differ from the run without the average
    images = np.random.default_rng(0).integers(0, 256, size=(5, 32, 32, 3), dtype=np.uint8)
    assert not torch.equal(load_teacher(checkpoint).features(images), load_teacher(plain).features(images))


def test_batchnorm_statistics_are_recomputed_as_plain_means_over_the_images():
    from pbr_cli.teacher.model import TeacherConfig
    from pbr_cli.teacher.training import _recompute_batchnorm

    model = torch.nn.Sequential(torch.nn.BatchNorm2d(3, momentum=0.3))
    model[0].running_mean.fill_(5.0)
    config = TeacherConfig("none", 4, ("a", "b"), 3, (0.0, 0.0, 0.0), (1 / 255,) * 3)
    pixels = torch.randint(0, 256, (10, 3, 4, 4), dtype=torch.uint8)
    _recompute_batchnorm(model, config, pixels, 4, torch.device("cpu"))  # batches of 4, 4 and 2 images
    batches = pixels.float().split(4)
    expected = torch.stack([batch.mean(dim=(0, 2, 3)) for batch in batches]).mean(0)
    torch.testing.assert_close(model[0].running_mean, expected)
    assert model[0].momentum == 0.3 and not model.training
