"""torchrun with 2 CPU processes (gloo) trains exactly what one process trains on the same global batch: the ITC
path with TSCL, and the ITM path with its hard negatives drawn by a layout-free stand-in."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from synthetic import write_tiny_dataset

# BatchNorm statistics are per process under DDP (no SyncBatchNorm), so the comparison trains a model without
# BatchNorm: the tiny ViT and no normalisation before the ITC projections; in fp32 (bf16 sums of a split batch
# round differently).
NO_BATCHNORM = Path(__file__).parent / "fixtures" / "no_batchnorm.json"
TRAIN = [
    "--seed",
    "3",
    "-q",
    "train",
    "--config",
    str(NO_BATCHNORM),
    "--loss",
    "itc",
    "--intra",
    "--inter",
    "--steps",
    "4",
    "-K",
    "8",
    "--img-size",
    "32",
    "--val-every",
    "4",
    "--log-every",
    "1",
    "--json",
]


def torchrun(*args, env) -> subprocess.CompletedProcess:
    """`pbr ARGS` under torchrun with two CPU processes; its exit status checked."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    done = subprocess.run(
        [*command, "-m", "pbr_cli.cli", *map(str, args)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def records(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_two_gloo_processes_match_one_process(tmp_path, invoke):
    """The one-process references run in this process (one thread, as the children): fewer start-ups."""
    data = write_tiny_dataset(tmp_path / "data")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PBR_CACHE_DIR": str(tmp_path / "cache"), "PBR_DEVICE": "cpu"}
    single = invoke(*TRAIN, "--data", data, "-o", tmp_path / "one")
    assert single.exit_code == 0, single.output
    ddp = torchrun(*TRAIN, "--data", data, "-o", tmp_path / "two", env=env)
    assert json.loads(ddp.stdout.strip().splitlines()[-1])["processes"] == 2
    one, two = records(tmp_path / "one"), records(tmp_path / "two")
    steps_one = [r for r in one if "split" not in r]
    steps_two = [r for r in two if "split" not in r]
    assert len(steps_one) == len(steps_two) == 4
    for a, b in zip(steps_one[:3], steps_two[:3]):
        for term in ("i2t", "t2i", "intra", "inter"):
            assert b[term] == pytest.approx(a[term], rel=1e-4, abs=1e-4), (term, a, b)
    # the weights after the last step (no logged loss reads them) are the same model to float precision: a few
    # near-zero gradients summed in another order flip Adam's first updates, nothing more. Measured: 91 of 2.6 M
    # values differ by over 1e-5 (L2 of all differences 1.9e-4); with the last step's gradients not averaged,
    # 338,000 do (L2 2.4e-2).
    import torch
    from safetensors.torch import load_file

    weights_one, weights_two = (load_file(str(tmp_path / name / "last.safetensors")) for name in ("one", "two"))
    assert weights_one.keys() == weights_two.keys()
    differences = torch.cat([(weights_two[k] - weights_one[k]).abs().flatten() for k in weights_one])
    assert (differences > 1e-5).double().mean() < 1e-3 and differences.norm() < 2e-3, differences.norm()
    val_one = [r for r in one if r.get("split") == "val"][-1]
    val_two = [r for r in two if r.get("split") == "val"][-1]
    assert val_two["map"] == pytest.approx(val_one["map"], abs=0.05)  # float-level weight differences may flip a tie
    assert val_two["r10@1"] == pytest.approx(val_one["r10@1"], abs=0.1)

    # evaluation under torchrun: each process scores a shard, process 0 merges them into one result and file
    evaluate = ["-q", "evaluate", str(tmp_path / "one"), "--score", "itc", "--json"]
    one_eval = invoke(*evaluate, "--scores-out", tmp_path / "scores_one.h5")
    assert one_eval.exit_code == 0, one_eval.output
    two_eval = torchrun(*evaluate, "--scores-out", tmp_path / "scores.h5", env=env)
    first, second = json.loads(one_eval.stdout), json.loads(two_eval.stdout.strip().splitlines()[-1])
    assert len(two_eval.stdout.strip().splitlines()) == 1  # one process reports
    import h5py
    import numpy as np

    # shards are scored in other batch compositions, so scores agree to float precision, not bit for bit
    with h5py.File(tmp_path / "scores.h5") as merged, h5py.File(tmp_path / "scores_one.h5") as single:
        assert merged["scores"].shape == (first["n"], 10)
        np.testing.assert_allclose(merged["scores"][()], single["scores"][()], atol=1e-4)
        assert list(merged["ids"].asstr()[()]) == list(single["ids"].asstr()[()])
    assert second["n"] == first["n"] and second["map"] == pytest.approx(first["map"], abs=0.05)

    # embedding under torchrun: shards merged by process 0 into the same index as one process writes
    one_embed = invoke("-q", "embed", data, "--model", tmp_path / "one", "-o", tmp_path / "one.h5")
    assert one_embed.exit_code == 0, one_embed.output
    torchrun("-q", "embed", data, "--model", tmp_path / "one", "-o", tmp_path / "two.h5", env=env)
    with h5py.File(tmp_path / "one.h5") as a, h5py.File(tmp_path / "two.h5") as b:
        assert list(a["ids"].asstr()[()]) == list(b["ids"].asstr()[()])
        assert (a["embeddings"][()] == b["embeddings"][()]).all()


# The ITM path: hard negatives are mined within each process, from each process's random generator, so the two
# layouts draw different negatives by design. The children replace the draw with one that does not depend on the
# layout (each dialogue's first allowed candidate, the dialogue's batch partner, every pair weighted in), so what
# is left to compare is everything around it: the ITM pairs of each shard, their loss and the averaged gradients.
LAYOUT_FREE = """
import torch
calls = [0]
def layout_free_negatives(similarity, positive_mask, generator=None):
    calls[0] += 1
    rows = torch.arange(len(similarity), device=similarity.device)
    if calls[0] % 2:                                   # a negative sticker among the dialogue's own candidates
        return (~positive_mask).int().argmax(1)
    return rows ^ 1                                    # a negative dialogue: the batch partner, on any layout
def every_pair_weighted_in(positive_mask):
    return torch.ones(len(positive_mask), dtype=torch.bool, device=positive_mask.device)
"""
FIXED_NEGATIVES = (
    LAYOUT_FREE
    + """
import sys
from pbr_cli.losses import objective
objective.sample_negatives, objective.has_negative = layout_free_negatives, every_pair_weighted_in
from pbr_cli.cli import main
sys.argv[0] = "pbr"
main()
"""
)
ITM_TRAIN = [
    "--seed",
    "3",
    "-q",
    "train",
    "--config",
    str(NO_BATCHNORM),
    "--loss",
    "itm",
    "--steps",
    "2",
    "-K",
    "4",
    "--img-size",
    "32",
    "--log-every",
    "1",
    "--json",
]


def test_two_gloo_processes_match_one_process_on_the_itm_path(tmp_path, invoke, monkeypatch):
    from pbr_cli.losses import objective

    data = write_tiny_dataset(tmp_path / "data", n_train=8, n_val=4, n_test=4)
    script = tmp_path / "fixed_negatives.py"
    script.write_text(FIXED_NEGATIVES, encoding="utf-8")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PBR_CACHE_DIR": str(tmp_path / "cache"), "PBR_DEVICE": "cpu"}
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(script)]
    layout_free: dict = {}
    exec(LAYOUT_FREE, layout_free)  # the one-process reference, in this process (one thread, as the children)
    monkeypatch.setattr(objective, "sample_negatives", layout_free["layout_free_negatives"])
    monkeypatch.setattr(objective, "has_negative", layout_free["every_pair_weighted_in"])
    one = invoke(*ITM_TRAIN, "--data", data, "-o", tmp_path / "one")
    assert one.exit_code == 0 and json.loads(one.stdout.strip().splitlines()[-1])["processes"] == 1, one.output
    done = subprocess.run(
        [*torchrun, *ITM_TRAIN, "--data", str(data), "-o", str(tmp_path / "two")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1])["processes"] == 2
    steps_one, steps_two = ([r for r in records(tmp_path / name) if "split" not in r] for name in ("one", "two"))
    assert len(steps_one) == len(steps_two) == 2
    for a, b in zip(steps_one, steps_two):
        for term in ("i2t", "t2i", "itm"):
            assert b[term] == pytest.approx(a[term], rel=1e-4, abs=1e-5), (term, a, b)
    import torch
    from safetensors.torch import load_file

    weights_one, weights_two = (load_file(str(tmp_path / name / "last.safetensors")) for name in ("one", "two"))
    assert weights_one.keys() == weights_two.keys()
    assert any(key.startswith("fusion.") for key in weights_one)  # the ITM head and fusion are compared
    differences = torch.cat([(weights_two[k] - weights_one[k]).abs().flatten() for k in weights_one])
    assert (differences > 1e-5).double().mean() < 1e-3 and differences.norm() < 2e-3, differences.norm()


def test_a_command_leaves_the_process_group_it_joined(tmp_path):
    """A gloo group left to interpreter shutdown can abort a finished process (SIGABRT, "terminate called without
    an active exception"); every command leaves it on the way out, on success and on error alike."""
    import torch.distributed as dist
    from click.testing import CliRunner

    from pbr_cli.cli import cli

    for arguments, exit_code in (([str(tmp_path / "missing")], 2), (["--help"], 0)):
        dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
        done = CliRunner().invoke(cli, ["embed", *arguments])
        assert done.exit_code == exit_code, done.output
        assert not dist.is_initialized()
        (tmp_path / "store").unlink(missing_ok=True)
