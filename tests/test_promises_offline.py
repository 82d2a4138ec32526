"""README: "nothing is ever downloaded". The suite runs with outbound sockets refused (tests/offline/); these
tests prove the guard works in the test process and in the Python processes tests start."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

UNROUTABLE = ("203.0.113.1", 80)  # TEST-NET-3: a connect without the guard hangs or fails some other way


@pytest.fixture
def attempts(tmp_path, monkeypatch):
    """This test's own attempt log (so that the suite-wide check does not fail it for the attempts it makes)."""
    log = tmp_path / "attempts.log"
    monkeypatch.setenv("PBR_TEST_NETWORK_LOG", str(log))
    return log


def test_outbound_connect_is_refused_at_once_in_the_test_process(attempts):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        with pytest.raises(ConnectionRefusedError, match="refuses outbound connections"):
            sock.connect(UNROUTABLE)
    with pytest.raises(urllib.error.URLError, match="refuses outbound connections"):
        urllib.request.urlopen("http://203.0.113.1/model.bin", timeout=5)
    logged = attempts.read_text(encoding="utf-8").splitlines()
    assert len(logged) == 2 and all("203.0.113.1" in line and str(os.getpid()) in line for line in logged)


def test_loopback_and_unix_sockets_still_work(tmp_path, attempts):
    with socket.create_server(("127.0.0.1", 0)) as server:
        with socket.create_connection(server.getsockname(), timeout=5):
            pass
    path = str(tmp_path / "sock")
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(path)
        server.listen()
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(path)
    assert not attempts.exists()


CHILD = """
import os, socket
sock = socket.socket()
sock.settimeout(5)
try:
    sock.connect(("203.0.113.1", 80))
except Exception as exc:
    print(type(exc).__name__, exc, os.getpid())
else:
    print("connected")
"""


def test_outbound_connect_is_refused_in_a_child_process(attempts):
    child = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=60)
    assert child.returncode == 0, child.stderr
    name, *_, pid = child.stdout.split()
    assert name == "OutboundConnectionRefused", child.stdout
    assert "refuses outbound connections" in child.stdout
    logged = attempts.read_text(encoding="utf-8")
    assert "203.0.113.1" in logged and f"process {pid}" in logged
