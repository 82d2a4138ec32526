"""Shared fixtures: no network, an isolated cache and working folder per test, CliRunner, quiet libraries."""

from __future__ import annotations

import functools
import importlib.util
import os
from pathlib import Path

import pytest
import torch

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ["PBR_DEVICE"] = "cpu"

torch.set_num_threads(1)  # tests use tiny tensors: one thread is faster, and immune to a busy machine


OFFLINE = Path(__file__).resolve().parent / "offline"  # its sitecustomize.py is the network guard


def _network_guard():
    spec = importlib.util.spec_from_file_location("pbr_test_network_guard", OFFLINE / "sitecustomize.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session", autouse=True)
def offline(tmp_path_factory):
    """Outbound sockets are refused (loopback and AF_UNIX allowed) in this process and in every Python process
    a test starts: the guard's folder goes first on PYTHONPATH, so children import it as their sitecustomize.
    Yields the file where refused attempts are logged."""
    guard = _network_guard()
    guard.install()
    log = tmp_path_factory.getbasetemp() / f"network-attempts-{os.getpid()}.log"
    names = ("PYTHONPATH", guard.GUARD_VARIABLE, guard.LOG_VARIABLE)
    saved = {name: os.environ.get(name) for name in names}
    os.environ["PYTHONPATH"] = os.pathsep.join([str(OFFLINE), *([saved["PYTHONPATH"]] if saved["PYTHONPATH"] else [])])
    os.environ[guard.GUARD_VARIABLE] = "1"
    os.environ[guard.LOG_VARIABLE] = str(log)
    yield log
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(autouse=True)
def no_network_attempts(offline):
    """Fail the test that tried to connect out, even where the code that tried swallowed the refusal."""
    start = offline.stat().st_size if offline.exists() else 0
    yield
    if offline.exists() and offline.stat().st_size > start:
        with open(offline, encoding="utf-8") as handle:
            handle.seek(start)
            attempts = handle.read()
        pytest.fail(f"outbound connection attempted (nothing is ever downloaded):\n{attempts}")


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
