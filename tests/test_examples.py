"""The example scripts run end to end on the tiny demo dataset."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ablation_script_prints_a_table(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PBR_CACHE_DIR": str(tmp_path / "cache")}
    command = [sys.executable, str(ROOT / "examples" / "ablation.py"), "--size", "tiny", "--steps", "2"]
    command += ["--table", "5", "--seeds", "0", "1", "--teacher-epochs", "1", "--jobs", "2"]
    proc = subprocess.run(
        [*command, "--report", str(tmp_path / "ab")], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    table = (tmp_path / "ab" / "table5.md").read_text()
    for name in ("features", "logits", "anchors"):
        assert f"| {name} |" in table
    assert "±" in proc.stdout


def test_ablation_script_trains_the_rows_asked_for_keeps_finished_runs_and_resumes_stopped_ones(
    tmp_path, monkeypatch, capsys
):
    """--only, --set and their refusals; run again on its report folder, the script keeps a finished run, resumes
    a stopped one and (--retrain) trains anew; rows that need no teacher train none. In this process (its
    trainings run in-process either way without --jobs): seven start-ups fewer."""
    import importlib.util

    import torch

    spec = importlib.util.spec_from_file_location("ablation_example", ROOT / "examples" / "ablation.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    monkeypatch.chdir(tmp_path)
    command = ["ablation.py", "--size", "tiny", "--steps", "2", "--table", "3", "--seeds", "0", "--teacher-epochs", "1"]
    command += ["--report", "ab"]
    run = tmp_path / "ab" / "runs" / "t3-base-s0"

    def ablation(*extra, status=0):
        monkeypatch.setattr(sys, "argv", [*command, *extra])
        capsys.readouterr()
        try:
            script.main()
            code = 0
        except SystemExit as stop:
            code = stop.code
        said = capsys.readouterr()
        assert code == status, said.err[-2000:]
        return said.out + said.err

    def rows():
        return [line.split("|")[1].strip() for line in (tmp_path / "ab" / "table3.md").read_text().splitlines()[2:]]

    ablation("--only", "base")
    assert rows() == ["base"] and not (tmp_path / "ab" / "teacher.pt").exists()  # Base reads no teacher
    trained = (run / "run.json").stat().st_mtime_ns
    first = (tmp_path / "ab" / "table3.md").read_text()
    output = ablation("--only", "base", "full")
    assert rows() == ["base", "full"] and (tmp_path / "ab" / "teacher.pt").is_file()
    assert "kept: " in output and first.splitlines()[2] in output and (run / "run.json").stat().st_mtime_ns == trained
    report = json.loads((tmp_path / "ab" / "table3.json").read_text())
    assert all(len(row["val_r@1"]) == 1 and 0 <= row["val_r@1"][0] <= 1 for row in report)
    assert "no row named nonsense" in ablation("--only", "nonsense", status=2)
    assert "FIELD=VALUE" in ablation("--set", "no_such_option=1", status=2)

    state = torch.load(run / "train_state.pt", weights_only=True)  # as if stopped after step 1 of 2
    state["step"] = 1
    torch.save(state, run / "train_state.pt")
    output = ablation("--only", "base")
    assert f"train --resume {run.relative_to(tmp_path)}" in output and "kept: " not in output
    assert torch.load(run / "train_state.pt", weights_only=True)["step"] == 2

    output = ablation("--only", "ekd", "--set", "ekd_weight=1.25")  # the teacher's files are reused
    config = json.loads((tmp_path / "ab" / "runs" / "t3-ekd-s0" / "config.json").read_text())
    assert config["train"]["ekd_weight"] == 1.25 and "ekd_weight = 1.25" in output and "reusing" in output
    output = ablation("--only", "base", "--retrain")
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
