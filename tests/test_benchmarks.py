"""The benchmark scripts run on the CPU with small settings and print one JSON object (figures are not checked)."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.mark.parametrize(
    "script,args,key",
    [
        ("rank_latency.py", ["--sizes", "10", "200", "--repeats", "2"], "results"),
        (
            "embed_throughput.py",
            ["--arch", "tiny", "--batch-size", "8", "--batches", "2", "--device", "cpu"],
            "images_per_s",
        ),
        (
            "train_throughput.py",
            ["--config", "tiny", "--steps", "1", "--warmup", "1", "--k", "4", "--device", "cpu"],
            "ratio",
        ),
        ("evaluate_scores.py", ["--dialogues", "30", "--stickers", "12"], "seconds"),
    ],
)
def test_benchmark_prints_json(tmp_path, script, args, key):
    run_benchmark(tmp_path, script, args, key)


def run_benchmark(tmp_path, script, args, key) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PBR_CACHE_DIR": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, str(BENCH / script), *args], capture_output=True, text=True, env=env, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert key in result
    return result


def test_rerank_quality_reports_recall_per_rerank(tmp_path):
    from fixtures_data import write_pbr_dataset
    from helpers import run_pbr

    data = write_pbr_dataset(tmp_path / "data")
    run = tmp_path / "run"
    trained = run_pbr("train", "--data", data, "-o", run, "--steps", "2", "-K", "2", "--img-size", "32")
    assert trained.exit_code == 0, trained.output
    args = ["--model", str(run), "--split", "test", "--rerank", "2", "4", "--limit", "3"]
    result = run_benchmark(tmp_path, "rerank_quality.py", args, "results")
    assert result["dialogues"] == 3 and set(result["results"]) == {"2", "4"}
    assert all(0 <= row["r@1"] <= row["r@5"] <= row["r@10"] <= 1 for row in result["results"].values())


@pytest.mark.skipif(importlib.util.find_spec("uvicorn") is None, reason="needs the serve extra")
def test_serve_latency_reports_latency_and_cpu_per_request(tmp_path):
    args = ["--stickers", "50", "--requests", "10", "--clients", "2", "--threads", "1"]
    result = run_benchmark(tmp_path, "serve_latency.py", args, "p50_ms")
    assert result["ok"] == 10 and result["error_count"] == 0
    assert 0 < result["p50_ms"] <= result["p90_ms"] <= result["p99_ms"]
    if sys.platform == "linux":  # the server's CPU time is read from /proc
        assert result["server_cpu_ms_per_request"] > 0
    assert result["client_cpu_ms_per_request"] > 0


def test_teacher_small_set_holds_out_whole_characters(tmp_path):
    args = ["--size", "tiny", "--train-characters", "1", "--seeds", "0", "1", "--epochs", "1", "--img-size", "32"]
    result = run_benchmark(tmp_path, "teacher_small_set.py", args, "mean")
    assert [run["seed"] for run in result["runs"]] == [0, 1]
    for run in result["runs"]:
        assert len(run["train_characters"]) == 1 and run["test_characters"] == 2  # the tiny demo has 3
        assert run["train_images"] + run["val_images"] == 24 and run["test_images"] == 48  # 24 images each
        assert sum(run["train_images_per_emotion"].values()) == run["train_images"]
        assert run["epochs"] == 1 and 0 <= run["majority_baseline"] <= 1 and 0 <= run["test_accuracy"] <= 1
