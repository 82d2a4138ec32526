"""The example scripts run end to end on the tiny demo dataset."""

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
