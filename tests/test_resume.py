"""Training survives interruption: SIGKILL at chosen steps (between the two checkpoint files, half-way through
one, during a step) resumes to the same final weights; SIGTERM saves and
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

STEPS = 30
TRAIN = ["--steps", str(STEPS), "-K", "4", "--img-size", "32", "--save-every", "2", "--val-every", "10"]


def pbr(*args, cwd, env):
    return subprocess.Popen(
        [sys.executable, "-m", "pbr_cli.cli", *[str(a) for a in args]],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def saved_step(run) -> int:
    """The step of the run's checkpoint, 0 before there is one. Checkpoints are replaced atomically, so any
    checkpoint that exists must load: a half-written one fails the test instead of reading as step 0."""
    if not (run / "train_state.pt").exists():
        return 0
    return int(safe_torch_load(run / "train_state.pt")["step"])


VAL_STEPS = [10, 20, 30]


def steps_logged(run) -> list[int]:
    """The steps of the run's training records, then of its validation records."""
    from pbr_cli.report.curves import read_metrics

    train, val = read_metrics(run / "metrics.jsonl")
    return [record["step"] for record in train] + [record["step"] for record in val]


@pytest.fixture
def setup(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PBR_CACHE_DIR": str(tmp_path / "cache"), "PBR_DEVICE": "cpu"}
    data = write_tiny_dataset(tmp_path / "data")
    return tmp_path, data, env


# The child kills itself at a step counter, not at a moment the parent happens to poll: PBR_TEST_KILL is
# "MODE:STEP" with MODE between (train_state.pt of STEP written, last.safetensors not yet), mid-write (half of
# train_state.pt's temporary file written) or after (in the step after STEP's checkpoint).
SELF_KILLING = """
import os, signal, sys
import torch
from pbr_cli import engine
mode, at = os.environ["PBR_TEST_KILL"].split(":")
at = int(at)
saving = {"step": None}
def die():
    os.kill(os.getpid(), signal.SIGKILL)
save_state, save_weights, torch_save = engine.Trainer.save_state, engine.save_weights, torch.save
step = engine.Trainer.step
def counted_save_state(self, number):
    saving["step"] = number
    save_state(self, number)
def weights(path, *args, **kwargs):
    if mode == "between" and saving["step"] == at and str(path).endswith("last.safetensors"):
        die()
    return save_weights(path, *args, **kwargs)
def half_save(obj, path, *args, **kwargs):
    if mode == "mid-write" and saving["step"] == at:
        torch_save(obj, path, *args, **kwargs)
        with open(path, "r+b") as handle:
            handle.truncate(os.path.getsize(path) // 2)
            os.fsync(handle.fileno())
        die()
    return torch_save(obj, path, *args, **kwargs)
def counted_step(self, rows, lr, check=0):
    if mode == "after" and check == at + 1:
        die()
    return step(self, rows, lr, check)
engine.Trainer.save_state, engine.save_weights, torch.save = counted_save_state, weights, half_save
engine.Trainer.step = counted_step
from pbr_cli.cli import main
sys.argv[0] = "pbr"
main()
"""


def test_sigkill_at_three_points_resumes_to_identical_weights(setup, invoke):
    """The uninterrupted reference and the last resume run in this process (one thread, as the children)."""
    tmp_path, data, env = setup
    logged = [*TRAIN, "--log-every", "1"]  # steps after a checkpoint are logged before the kill
    # checkpoints every 2 steps cost half the reference's time and change nothing in what it trains
    rare = [*logged[: logged.index("--save-every")], *logged[logged.index("--save-every") + 2 :], "--save-every", "30"]
    reference = invoke("--seed", "5", "train", "--data", data, *rare, "-o", tmp_path / "reference")
    assert reference.exit_code == 0, reference.output

    run = tmp_path / "interrupted"
    start = ["--seed", "5", "train", "--data", data, *logged, "-o", run]
    kills = [("between", 6, 6), ("mid-write", 14, 12), ("after", 22, 22)]  # how, at which step, resumed from
    for number, (mode, step, resumes_from) in enumerate(kills):
        args = start if number == 0 else ["train", "--resume", run]
        killed = subprocess.run(
            [sys.executable, "-c", SELF_KILLING, *map(str, args)],
            cwd=tmp_path,
            env={**env, "PBR_TEST_KILL": f"{mode}:{step}"},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert killed.returncode == -signal.SIGKILL, (mode, killed.returncode, killed.stderr[-2000:])
        assert saved_step(run) == resumes_from, mode
        leftovers = sorted(path.name for path in run.glob(".*.tmp"))
        assert len(leftovers) == (number > 0), (mode, leftovers)  # the half-written temporary file, no other
    resumed = invoke("train", "--resume", run)
    assert resumed.exit_code == 0, resumed.output
    # the steps logged after the last checkpoint were dropped when resuming: the log is the reference's
    assert steps_logged(run) == steps_logged(tmp_path / "reference") == [*range(1, STEPS + 1), *VAL_STEPS]
    expected = load_file(str(tmp_path / "reference" / "last.safetensors"))
    resumed = load_file(str(run / "last.safetensors"))
    assert expected.keys() == resumed.keys()
    assert all(torch.equal(expected[k], resumed[k]) for k in expected)


def test_sigterm_saves_a_checkpoint_and_says_how_to_resume(setup, invoke):
    tmp_path, data, env = setup
    run = tmp_path / "run"
    every_fourth = [
        *TRAIN[: TRAIN.index("--save-every")],
        *TRAIN[TRAIN.index("--save-every") + 2 :],
        "--save-every",
        "4",
    ]
    process = pbr("train", "--data", data, *every_fourth, "-o", run, cwd=tmp_path, env=env)
    while saved_step(run) < 4 and process.poll() is None:
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    # sent at step 4 or soon after, of 30: a run that ends first is a failure, not a skip
    assert process.returncode == 130, f"training did not stop on SIGTERM (exit {process.returncode}): {stderr[-2000:]}"
    assert "SIGTERM received" in stderr and f"pbr train --resume {run}" in stderr
    assert "Traceback" not in stderr
    step = saved_step(run)
    assert step >= 4
    finished = invoke("train", "--resume", run, "--json")
    assert finished.exit_code == 0, finished.output
    assert f'"resumed_from": {step}' in finished.stdout


def test_nan_loss_stops_naming_step_and_term(setup, invoke):
    tmp_path, data, _ = setup
    result = invoke(
        "train", "--data", data, "--steps", "30", "-K", "4", "--img-size", "32", "--lr", "1e30", "-o", tmp_path / "nan"
    )
    assert result.exit_code != 0
    assert "loss term" in result.output and "at step" in result.output and "Traceback" not in result.output


def test_resume_without_a_checkpoint_is_explained(setup, invoke):
    tmp_path, data, _ = setup
    result = invoke("train", "--resume", tmp_path / "nowhere")
    assert result.exit_code != 0 and "run folder" in result.output


def test_a_killed_run_with_a_weight_average_resumes_to_the_same_average(setup, invoke):
    tmp_path, data, env = setup
    train = ["--data", data, "--steps", "24", "-K", "4", "--img-size", "32", "--save-every", "4", "--ema", "0.8"]
    reference = invoke("--seed", "5", "train", *train, "-o", tmp_path / "reference")
    assert reference.exit_code == 0, reference.output
    run = tmp_path / "interrupted"
    killed = subprocess.run(
        [sys.executable, "-c", SELF_KILLING, "--seed", "5", "train", *map(str, train), "-o", str(run)],
        cwd=tmp_path,
        env={**env, "PBR_TEST_KILL": "after:12"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert saved_step(run) == 12
    resumed = invoke("train", "--resume", run)
    assert resumed.exit_code == 0, resumed.output
    assert steps_logged(run) == steps_logged(tmp_path / "reference")
    expected = load_file(str(tmp_path / "reference" / "last.safetensors"))
    resumed = load_file(str(run / "last.safetensors"))
    assert all(torch.equal(expected[k], resumed[k]) for k in expected)
    assert safe_torch_load(run / "train_state.pt")["average"]["updates"] == 24


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    from helpers import module_cache, run_pbr

    root = tmp_path_factory.mktemp("finished")
    with module_cache(root / "cache"):
        data = write_tiny_dataset(root / "data")
        result = run_pbr("train", "--data", data, "-o", root / "run", "--steps", "2", "-K", "4", "--img-size", "32")
        assert result.exit_code == 0, result.output
    return root / "run"


def _damage(run, case):
    import json

    if case == "run.json data not text":
        info = json.loads((run / "run.json").read_text(encoding="utf-8"))
        info["options"]["data"] = 5
        (run / "run.json").write_text(json.dumps(info), encoding="utf-8")
        return "run.json", "option 'data' holds 5"
    if case == "metrics.jsonl line not json":
        with open(run / "metrics.jsonl", "a", encoding="utf-8") as handle:
            handle.write("{bad\n")
        return "metrics.jsonl", "is not JSON"
    state = torch.load(run / "train_state.pt", weights_only=False)
    if case == "no generator":
        del state["generator"]
        needle = "'generator' is missing"
    elif case == "generator of 3 bytes":
        state["generator"] = torch.zeros(3, dtype=torch.uint8)
        needle = "damaged checkpoint"
    elif case == "negative step":
        state["step"] = -5
        needle = "step -5 is not one of the run's 0-2"
    else:
        state["step"] = 10**6
        needle = "step 1000000 is not one of the run's 0-2"
    torch.save(state, run / "train_state.pt")
    return "train_state.pt", needle


@pytest.mark.parametrize(
    "case",
    [
        "no generator",
        "generator of 3 bytes",
        "negative step",
        "step past the end",
        "run.json data not text",
        "metrics.jsonl line not json",
    ],
)
def test_resume_refuses_a_damaged_run_folder_before_any_work(finished_run, tmp_path, invoke, case):
    import shutil

    from helpers import assert_refused

    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    name, needle = _damage(run, case)
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    assert_refused(invoke("train", "--resume", run), f"{run / name}: ", needle)
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before


def test_resuming_a_finished_run_trains_and_rewrites_nothing(finished_run, tmp_path, invoke):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in run.iterdir() if p.name != "learning_curves.png"}
    result = invoke("train", "--resume", run)
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "finished its 2 steps already: nothing to train" in said and "steps: 2, all trained before" in said
    after = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in run.iterdir() if p.name != "learning_curves.png"}
    assert after == before  # the checkpoint, the weights and the log untouched


def test_a_resumed_run_says_which_steps_its_time_covers(capsys):
    from pbr_cli.summaries import print_training

    print_training({"run": "r", "steps": 60, "seconds": 4.5, "resumed_from": 40, "last_val": {}})
    print_training({"run": "r", "steps": 60, "seconds": 9.0, "resumed_from": None, "last_val": {}})
    said = capsys.readouterr().out
    assert "steps: 41-60 of 60 in 4.5 s (resumed at step 40)" in said and "steps: 60 in 9.0 s" in said
