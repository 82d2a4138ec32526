"""Training survives interruption: SIGKILL at any moment resumes to the same final weights; SIGTERM saves and
exits cleanly; a NaN loss stops with a message naming the step and term."""

import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from pbr_cli.model.weights import safe_torch_load
from synthetic import write_tiny_dataset

STEPS = 60
TRAIN = ["--steps", str(STEPS), "-K", "4", "--img-size", "32", "--save-every", "2", "--val-every", "20"]


def pbr(*args, cwd, env):
    return subprocess.Popen([sys.executable, "-m", "pbr_cli.cli", *[str(a) for a in args]], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def saved_step(run) -> int:
    try:
        return int(safe_torch_load(run / "train_state.pt")["step"])
    except Exception:
        return 0


@pytest.fixture
def setup(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PBR_CACHE_DIR": str(tmp_path / "cache"), "PBR_DEVICE": "cpu"}
    data = write_tiny_dataset(tmp_path / "data")
    return tmp_path, data, env


def test_sigkill_at_three_points_resumes_to_identical_weights(setup):
    tmp_path, data, env = setup
    reference = pbr("--seed", "5", "train", "--data", data, *TRAIN, "-o", tmp_path / "reference", cwd=tmp_path, env=env)
    assert reference.wait(timeout=300) == 0, reference.stderr.read()

    run = tmp_path / "interrupted"
    process = pbr("--seed", "5", "train", "--data", data, *TRAIN, "-o", run, cwd=tmp_path, env=env)
    kills = 0
    for threshold in (10, 26, 42):
        deadline = time.time() + 120
        while saved_step(run) < threshold and process.poll() is None and time.time() < deadline:
            time.sleep(0.02)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait()
            kills += 1
        assert 0 < saved_step(run) < STEPS or process.returncode == 0
        process = pbr("train", "--resume", run, cwd=tmp_path, env=env)
    assert process.wait(timeout=300) == 0, process.stderr.read()
    assert kills >= 3
    expected = load_file(str(tmp_path / "reference" / "last.safetensors"))
    resumed = load_file(str(run / "last.safetensors"))
    assert expected.keys() == resumed.keys()
    assert all(torch.equal(expected[k], resumed[k]) for k in expected)


def test_sigterm_saves_a_checkpoint_and_says_how_to_resume(setup):
    tmp_path, data, env = setup
    run = tmp_path / "run"
    process = pbr("train", "--data", data, *TRAIN, "-o", run, cwd=tmp_path, env=env)
    while saved_step(run) < 4 and process.poll() is None:
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    if process.returncode == 0:
        pytest.skip("training finished before the signal arrived")
    assert process.returncode == 130
    assert "SIGTERM received" in stderr and f"pbr train --resume {run}" in stderr
    assert "Traceback" not in stderr
    step = saved_step(run)
    assert step >= 4
    finished = pbr("train", "--resume", run, "--json", cwd=tmp_path, env=env)
    out, err = finished.communicate(timeout=300)
    assert finished.returncode == 0, err
    assert f'"resumed_from": {step}' in out


def test_nan_loss_stops_naming_step_and_term(setup, invoke):
    tmp_path, data, _ = setup
    result = invoke("train", "--data", data, "--steps", "30", "-K", "4", "--img-size", "32", "--lr", "1e30",
                    "-o", tmp_path / "nan")
    assert result.exit_code != 0
    assert "loss term" in result.output and "at step" in result.output and "Traceback" not in result.output


def test_resume_without_a_checkpoint_is_explained(setup, invoke):
    tmp_path, data, _ = setup
    result = invoke("train", "--resume", tmp_path / "nowhere")
    assert result.exit_code != 0 and "run folder" in result.output
