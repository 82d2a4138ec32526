"""`pbr --deterministic`: only deterministic kernels, so that a training run twice gives the same numbers."""

from __future__ import annotations

import json

import pytest
import torch

from helpers import run_pbr
from synthetic import write_tiny_dataset

TRAIN = ["--steps", "6", "-K", "4", "--img-size", "32", "--val-every", "3"]
TIMING = {"dialogues_per_s", "seconds", "steps_per_s"}


@pytest.fixture
def two_threads():
    """Two threads, where several backward kernels add up in a different order on every run."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def metrics(run):
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in line.items() if k not in TIMING} for line in lines]


def test_the_block_turns_deterministic_kernels_on_and_restores_the_settings_after():
    from pbr_cli.runtime import deterministic_algorithms

    assert not torch.are_deterministic_algorithms_enabled()
    with deterministic_algorithms():
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.is_deterministic_algorithms_warn_only_enabled()  # an op without such a kernel warns
        assert not torch.backends.cudnn.benchmark
        assert not torch.utils.deterministic.fill_uninitialized_memory  # a tenth of a CPU step, see below
    assert not torch.are_deterministic_algorithms_enabled()
    assert torch.utils.deterministic.fill_uninitialized_memory
    with deterministic_algorithms(False):
        assert not torch.are_deterministic_algorithms_enabled()


def test_a_gather_backward_adds_up_in_one_order_on_two_threads(two_threads):
    """`table[rows]` (how a batch picks its stickers' rows) sums the gradients of repeated rows with several
    threads in an order that changes from run to run; within the block in one fixed order."""
    from pbr_cli.runtime import deterministic_algorithms

    def gradient():
        generator = torch.Generator().manual_seed(0)
        table = torch.randn(500, 64, generator=generator, requires_grad=True)
        rows = torch.randint(0, 500, (100_000,), generator=generator)
        (table[rows] * torch.randn(100_000, 64, generator=generator)).sum().backward()
        return table.grad

    with deterministic_algorithms():
        first = gradient()
        assert all(torch.equal(first, gradient()) for _ in range(4))


def test_a_deterministic_training_repeats_to_the_bit_on_two_threads(tmp_path, two_threads, monkeypatch):
    from pbr_cli.engine import Trainer

    seen = []
    run_steps = Trainer.run

    def recording(self, *args, **kwargs):
        seen.append(torch.are_deterministic_algorithms_enabled())
        return run_steps(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "run", recording)
    data = write_tiny_dataset(tmp_path / "data")
    runs = [tmp_path / "a", tmp_path / "b"]
    for run in runs:
        result = run_pbr("--deterministic", "--seed", "3", "train", "--data", data, "-o", run, *TRAIN)
        assert result.exit_code == 0, result.output
    assert seen == [True, True]
    assert not torch.are_deterministic_algorithms_enabled()  # the command's block has closed
    assert metrics(runs[0]) == metrics(runs[1])
    assert any(line.get("split") == "val" for line in metrics(runs[0]))
    for name in ("best.safetensors", "last.safetensors"):
        assert (runs[0] / name).read_bytes() == (runs[1] / name).read_bytes()
    assert json.loads((runs[0] / "run.json").read_text())["deterministic"] is True


def test_a_run_resumes_with_the_kernels_it_was_started_with(tmp_path):
    from pbr_cli.training import _started_deterministic

    data = write_tiny_dataset(tmp_path / "data")
    for flag, run in (([], tmp_path / "plain"), (["--deterministic"], tmp_path / "repeatable")):
        assert run_pbr(*flag, "train", "--data", data, "-o", run, *TRAIN).exit_code == 0
    assert json.loads((tmp_path / "plain" / "run.json").read_text())["deterministic"] is False
    assert not _started_deterministic(tmp_path / "plain")
    assert _started_deterministic(tmp_path / "repeatable")
    assert not _started_deterministic(tmp_path / "no-such-run")


def test_the_environment_variable_turns_it_on(tmp_path, monkeypatch):
    from pbr_cli.engine import Trainer

    seen = []
    monkeypatch.setattr(Trainer, "run", lambda self, *a, **k: seen.append(torch.are_deterministic_algorithms_enabled()))
    monkeypatch.setenv("PBR_DETERMINISTIC", "1")
    data = write_tiny_dataset(tmp_path / "data")
    run_pbr("train", "--data", data, "-o", tmp_path / "run", *TRAIN)
    assert seen == [True]


def test_training_reads_no_uninitialised_memory(tmp_path, monkeypatch):
    """The block leaves new tensors unfilled; filled with NaN (torch's default under deterministic kernels) a
    training gives the same numbers, so nothing pbr computes reads memory it did not write."""
    import contextlib

    from pbr_cli import runtime

    unfilled = runtime.deterministic_algorithms

    @contextlib.contextmanager
    def filled(enabled=True):
        with unfilled(enabled):
            torch.utils.deterministic.fill_uninitialized_memory = True
            yield

    data = write_tiny_dataset(tmp_path / "data")
    runs = [tmp_path / "unfilled", tmp_path / "filled"]
    for run, block in zip(runs, (unfilled, filled)):
        monkeypatch.setattr(runtime, "deterministic_algorithms", block)
        result = run_pbr("--deterministic", "--seed", "3", "train", "--data", data, "-o", run, *TRAIN)
        assert result.exit_code == 0, result.output
    assert torch.utils.deterministic.fill_uninitialized_memory
    assert metrics(runs[0]) == metrics(runs[1])
