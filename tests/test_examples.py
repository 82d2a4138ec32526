"""The example scripts run end to end on the tiny demo dataset."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ablation_script_prints_a_table(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PBR_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "ablation.py"),
            "--table",
            "5",
            "--size",
            "tiny",
            "--steps",
            "2",
            "--seeds",
            "0",
            "1",
            "--teacher-epochs",
            "1",
            "--jobs",
            "2",
            "--report",
            str(tmp_path / "ab"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    table = (tmp_path / "ab" / "table5.md").read_text()
    for name in ("features", "logits", "anchors"):
        assert f"| {name} |" in table
    assert "±" in proc.stdout


def test_ablation_script_trains_only_the_rows_asked_for(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PBR_CACHE_DIR": str(tmp_path / "cache")}
    common = [
        sys.executable,
        str(ROOT / "examples" / "ablation.py"),
        "--table",
        "3",
        "--size",
        "tiny",
        "--steps",
        "2",
        "--seeds",
        "0",
        "--teacher-epochs",
        "1",
        "--report",
        str(tmp_path / "ab"),
    ]
    proc = subprocess.run(
        [*common, "--only", "base", "full"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [line.split("|")[1].strip() for line in (tmp_path / "ab" / "table3.md").read_text().splitlines()[2:]]
    assert rows == ["base", "full"]
    wrong = subprocess.run(
        [*common, "--only", "nonsense"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600
    )
    assert wrong.returncode == 2 and "no row named nonsense" in wrong.stderr
    report = json.loads((tmp_path / "ab" / "table3.json").read_text())
    assert all(len(row["val_r@1"]) == 1 and 0 <= row["val_r@1"][0] <= 1 for row in report)

    setting = [*common[:-1], str(tmp_path / "ab-set"), "--only", "ekd", "--set", "ekd_weight=1.25"]
    proc = subprocess.run(setting, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    config = json.loads((tmp_path / "ab-set" / "runs" / "t3-ekd-s0" / "config.json").read_text())
    assert config["train"]["ekd_weight"] == 1.25 and "ekd_weight = 1.25" in proc.stdout
    bad = subprocess.run(
        [*common, "--set", "no_such_option=1"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600
    )
    assert bad.returncode == 2 and "FIELD=VALUE" in bad.stderr


def test_ablation_script_keeps_finished_runs_and_resumes_interrupted_ones(tmp_path):
    import torch

    env = {**os.environ, "OMP_NUM_THREADS": "1", "PBR_CACHE_DIR": str(tmp_path / "cache")}
    command = [sys.executable, str(ROOT / "examples" / "ablation.py"), "--table", "3", "--size", "tiny"]
    command += ["--steps", "2", "--seeds", "0", "--teacher-epochs", "1", "--only", "base", "--report", "ab"]
    run = tmp_path / "ab" / "runs" / "t3-base-s0"

    def ablation(*extra):
        proc = subprocess.run([*command, *extra], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
        assert proc.returncode == 0, proc.stderr[-2000:]
        return proc.stdout + proc.stderr, (tmp_path / "ab" / "table3.md").read_text()

    _, first = ablation()
    trained = (run / "run.json").stat().st_mtime_ns
    output, again = ablation()
    assert "kept: " in output and again == first and (run / "run.json").stat().st_mtime_ns == trained
    state = torch.load(run / "train_state.pt", weights_only=True)  # as if stopped after step 1 of 2
    state["step"] = 1
    torch.save(state, run / "train_state.pt")
    output, _ = ablation()
    assert f"train --resume {run.relative_to(tmp_path)}" in output and "kept: " not in output
    assert torch.load(run / "train_state.pt", weights_only=True)["step"] == 2
    output, _ = ablation("--retrain")
    assert "kept: " not in output and "--resume" not in output and (run / "run.json").stat().st_mtime_ns > trained


def test_demo_as_stickerchat_writes_what_the_stickerchat_reader_reads_back(tmp_path):
    import numpy as np

    from fixtures_data import write_pbr_dataset
    from pbr_cli.data import open_dataset
    from pbr_cli.data.stickerchat import read_stickerchat

    data = write_pbr_dataset(tmp_path)
    out = tmp_path / "sc"
    script = [sys.executable, str(ROOT / "examples" / "demo_as_stickerchat.py")]
    proc = subprocess.run([*script, str(out), "--data", str(data)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    source, copy = open_dataset(data), read_stickerchat(out)
    assert copy.format == "stickerchat"
    assert {split: len(d) for split, d in copy.splits.items()} == {"train": 12, "val": 6, "test": 6}
    for split, dialogues in source.splits.items():
        for original, read in zip(dialogues, copy.splits[split], strict=True):
            assert read.context == original.context
            sticker = source.stickers[original.sticker]
            assert read.sticker == f"{sticker.topic}/{sticker.id}"
            assert copy.stickers[read.sticker].topic == sticker.topic
            np.testing.assert_array_equal(copy.stickers[read.sticker].image(), sticker.image())
    assert all(sticker.emotion is None for sticker in copy.stickers.values())  # StickerChat has no labels

    again = subprocess.run([*script, str(out), "--data", str(data)], capture_output=True, text=True, timeout=300)
    assert again.returncode != 0 and "already exists" in again.stderr
    missing = subprocess.run(
        [*script, str(tmp_path / "new"), "--data", str(tmp_path / "nowhere")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert missing.returncode != 0 and missing.stderr.startswith("error: ") and "Traceback" not in missing.stderr
    assert not (tmp_path / "new").exists() and not (tmp_path / ".new.partial").exists()
