"""Shared fixtures: an isolated cache and working folder per test, CliRunner, quiet libraries."""

from __future__ import annotations

import functools
import os

import pytest
import torch

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ["PBR_DEVICE"] = "cpu"

torch.set_num_threads(1)  # tests use tiny tensors: one thread is faster, and immune to a busy machine


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own pbr cache folder, so no test sees another's files or the user's."""
    cache = tmp_path_factory.mktemp("pbr-cache")
    monkeypatch.setenv("PBR_CACHE_DIR", str(cache))
    return cache


@pytest.fixture
def runner():
    from click.testing import CliRunner

    return CliRunner()


@pytest.fixture
def invoke(runner):
    """Run the `pbr` CLI in-process; returns click's Result (module-scoped fixtures call helpers.run_pbr)."""
    from helpers import run_pbr

    return functools.partial(run_pbr, runner=runner)
