"""`pbr demo` runs the whole pipeline end to end (tiny dataset, a few steps) and writes its report."""

import json
import pickle
import time
from types import SimpleNamespace

import pytest
from PIL import Image


def tiny_demo(invoke, report, mode: str):
    """`pbr demo` on the tiny dataset, 3 steps, `mode` --sequential or --parallel: the CLI result and its JSON."""
    args = ("--size", "tiny", "--steps", "3", "--teacher-epochs", "1", "--report", report, mode, "--json")
    result = invoke("demo", *args)
    assert result.exit_code == 0, result.output
    return result, json.loads(result.stdout)  # stdout holds the JSON object alone


def test_demo_trains_base_in_a_second_process_when_parallel_and_a_later_run_replaces_the_report(invoke, tmp_path):
    """--parallel trains Base in a second process; a --sequential run into the same report then replaces it
    whole and writes every result, plot and sheet."""
    report = tmp_path / "report"
    result, summary = tiny_demo(invoke, report, "--parallel")
    assert summary["parallel"] is True
    assert set(summary["timings"]) >= {"teacher", "base", "pbr", "pbr_waited_for_base"}
    for name in ("base", "pbr"):
        metrics = summary["results"][name]
        assert metrics["n"] == 20 and 0 <= metrics["map"] <= 1 and 0 <= metrics["itc"]["map"] <= 1
        assert (report / "plots" / name / "fig5_intensity.png").is_file()
        assert json.loads((report / "runs" / name / "config.json").read_text())["train"]["steps"] == 3
    for name in ("base", "pbr"):  # both processes with deterministic kernels
        assert json.loads((report / "runs" / name / "run.json").read_text())["deterministic"] is True
    log = (report / "logs" / "base.log").read_text()  # the worker's output, whole
    assert "pbr --deterministic --seed 0 train" in " ".join(log.split())
    assert "train --data" in log and "steps: 3 in" in log and "evaluate" in log
    assert "--out" + str(report / "runs" / "base") in "".join(log.split())  # lines wrap anywhere in a path
    assert "logs/base.log" in result.stderr.replace("\\", "/").replace("\n", "")
    # a later run into the same report (here one after another) leaves nothing of this one's logs or sheets
    (report / "sheets" / "d99999.png").write_bytes(b"an earlier run's sheet")
    _, again = tiny_demo(invoke, report, "--sequential")
    assert again["parallel"] is False and not (report / "logs").exists()
    assert not (report / "sheets" / "d99999.png").exists() and len(list((report / "sheets").glob("*.png"))) == 3
    check_the_report(report, again)


def check_the_report(report, summary):
    """What every demo run writes: results, plots and sheets of both models, the teacher's figures."""
    for name in ("base", "pbr"):
        metrics = summary["results"][name]
        assert metrics["n"] == 20 and 0 <= metrics["map"] <= 1
        for plot in ("fig5_intensity.png", "fig1b_consistency.png", "fig4_tsne.png"):
            assert (report / "plots" / name / plot).is_file()
    config = json.loads((report / "runs" / "pbr" / "config.json").read_text())["train"]
    assert config["ekd"] == "anchors" and config["negatives"] == "phsm"
    assert config["intra_weight"] == 0.5 and config["inter_weight"] == 0.5
    assert len(summary["sheets"]) == 3
    with Image.open(summary["sheets"][0]) as sheet:
        assert sheet.width > 200 and sheet.height > 100
    table = (report / "results.md").read_text()
    assert "Base" in table and "PBR" in table
    teacher = summary["teacher"]  # the demo knows the emotion of all 4 x 14 stickers
    assert teacher["library_stickers"] == 4 * 14 and 0 <= teacher["library_accuracy"] <= 1
    assert 0 <= teacher["test_accuracy"] <= 1
    assert f"{100 * teacher['library_accuracy']:.1f}% on the 56 library stickers" in table
    for name in ("teacher.pt", "anchors.h5", "stickers_teacher.h5", "sentiment.h5", "scores_base.h5"):
        assert (report / name).is_file(), name


def test_an_interrupted_demo_says_to_run_the_demo_again(invoke, tmp_path, monkeypatch):
    from pbr_cli.demo import pipeline
    from pbr_cli.errors import TrainingInterrupted

    def stopped(plan):
        raise TrainingInterrupted(9, plan.report / "runs" / "pbr", "SIGINT")

    monkeypatch.setattr(pipeline, "run_pipeline", stopped)
    result = invoke("demo", "--size", "tiny", "--out", tmp_path / "data", "--report", tmp_path / "report")
    assert result.exit_code == 130
    said = " ".join(result.stderr.split())
    assert "SIGINT received: the demo stopped during a training; run the same `pbr demo` command again" in said
    assert "--resume" not in said


def test_an_error_in_the_background_training_reaches_the_parent(tmp_path):
    from pbr_cli.demo.pipeline import BackgroundTraining, DemoPlan
    from pbr_cli.errors import DataError

    missing = tmp_path / "no-dataset"
    plan = DemoPlan(data=missing, report=tmp_path / "report", device="cpu")
    (tmp_path / "report").mkdir()
    background = BackgroundTraining(plan, "base", {}, "Base", tmp_path / "base.log")
    try:
        with pytest.raises(DataError) as early:  # the parent's training loop hears of it at its next log step
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                background.check()
                time.sleep(0.2)
        with pytest.raises(DataError) as error:
            background.result()
    finally:
        background.close()
    assert str(missing) in str(error.value) and str(early.value) == str(error.value)
    assert not (tmp_path / "report" / "runs" / "base").exists()
    assert f"Error: {error.value}" in (tmp_path / "base.log").read_text()
    assert not background.process.is_alive()


def test_a_worker_that_dies_is_reported_with_its_log(tmp_path):
    from pbr_cli.demo import pipeline
    from pbr_cli.errors import TrainingError

    plan = pipeline.DemoPlan(data=tmp_path, report=tmp_path / "report", device="cpu")
    background = pipeline.BackgroundTraining(plan, "base", {}, "Base", tmp_path / "base.log")
    background.process.kill()
    try:
        with pytest.raises(TrainingError) as error:
            background.result()
    finally:
        background.close()
    assert str(error.value).startswith(f"{tmp_path / 'base.log'}: the process training base stopped (exit code -9)")


class ScriptedWorker:
    """A BackgroundTraining without a process: the outcome it reports from the given poll on (None: running)."""

    def __init__(self, outcome, after_polls: int, total: int = 2):
        from pbr_cli.demo.pipeline import BackgroundTraining

        self.background = BackgroundTraining.__new__(BackgroundTraining)
        self.background.name, self.background.total, self.background.outcome = "base", total, None
        self.background.waited = None
        self.polls, self.waits = 0, 0

        def receive(wait):
            self.polls += 1
            self.waits += wait
            if wait or self.polls > after_polls:
                self.background.outcome = outcome
            return self.background.outcome

        self.background._receive = receive
        self.background.results = SimpleNamespace(poll=lambda timeout=0: True)  # its result comes when waited for
        self.background.process = SimpleNamespace(is_alive=lambda: True)


@pytest.fixture
def one_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(before)


def test_the_hand_off_takes_the_threads_at_its_step_not_when_the_worker_ends(one_thread):
    torch = one_thread
    early = ScriptedWorker(("ok", {"itc": {}}), after_polls=0)  # done before the hand-off step
    hook = early.background.hand_off_at(40)
    for step in (20, 30):
        hook(step, {})
        assert torch.get_num_threads() == 1  # Base is done, and still PBR keeps one thread until step 40
    assert early.background.waited is None
    hook(40, {})
    assert torch.get_num_threads() == 2 and 0 <= early.background.waited < 5

    torch.set_num_threads(1)
    late = ScriptedWorker(("ok", {"itc": {}}), after_polls=10**6)  # still running at the hand-off step
    hook = late.background.hand_off_at(40)
    hook(20, {})
    assert torch.get_num_threads() == 1 and late.waits == 0
    hook(60, {})  # the first log step from 40 on waits for it
    assert torch.get_num_threads() == 2 and late.waits == 1
    hook(80, {})
    assert late.waits == 1


def test_a_stop_asked_for_while_waiting_for_the_worker_ends_the_wait(one_thread):
    """Ctrl-C while PBR waits at the hand-off step: the wait ends (the worker ignores SIGINT and may run for
    minutes), the threads stay, and PBR's training stops after its step as it always does."""
    from pbr_cli.engine import StopSignals, stop_requested

    running = ScriptedWorker(("ok", {"itc": {}}), after_polls=10**6)
    polls = []

    def poll(timeout=0):  # it never ends by itself
        polls.append(timeout)
        assert len(polls) < 20, "the hand-off kept waiting after the stop was asked for"
        return False

    running.background.results = SimpleNamespace(poll=poll)
    hook = running.background.hand_off_at(600)
    assert not stop_requested()
    with StopSignals() as signals:
        signals.received = "SIGINT"
        assert stop_requested()
        hook(600, {})
    assert not stop_requested()
    assert one_thread.get_num_threads() == 1 and running.waits == 0


def test_a_failed_worker_is_heard_of_before_the_hand_off_step(one_thread):
    from pbr_cli.errors import DataError

    failed = ScriptedWorker(("error", DataError("bad record", "/data/train.jsonl")), after_polls=1)
    hook = failed.background.hand_off_at(600)
    hook(20, {})
    with pytest.raises(DataError, match="bad record"):
        hook(40, {})
    assert one_thread.get_num_threads() == 1


def test_the_hand_off_step_is_half_the_training():
    from pbr_cli.demo.pipeline import DemoPlan, hand_off_step

    assert hand_off_step(DemoPlan(data=None, report=None)) == 600
    assert hand_off_step(DemoPlan(data=None, report=None, steps=3)) == 1
    assert hand_off_step(DemoPlan(data=None, report=None, steps=1)) == 1


def test_every_error_survives_pickling_whole():
    """An error raised in a worker process reaches the parent as the same class with the same fields."""
    from pbr_cli import errors

    samples = [
        errors.DataError("bad record", "/data/train.jsonl"),
        errors.OutputError("cannot write"),
        errors.TrainingInterrupted(7, "/runs/a", "SIGTERM"),
    ]
    for error in samples:
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error) and str(copy) == str(error) and copy.__dict__ == error.__dict__
        assert copy.exit_code == error.exit_code
