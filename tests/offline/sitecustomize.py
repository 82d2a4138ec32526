"""The test suite's network guard: outbound connections are refused, loopback and Unix sockets are allowed.

tests/conftest.py installs it in the test process and puts this folder first on PYTHONPATH, so every Python
process a test starts (`python -m pbr_cli.cli ...`, torchrun's workers) imports it at start-up as its
`sitecustomize` and is guarded too. A refused attempt raises `OutboundConnectionRefused` at once and is
appended to the file named by $PBR_TEST_NETWORK_LOG, so the test that made it fails even when the code that
tried swallows the error (README: "nothing is ever downloaded").
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys

LOG_VARIABLE = "PBR_TEST_NETWORK_LOG"
GUARD_VARIABLE = "PBR_TEST_OFFLINE"
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


class OutboundConnectionRefused(ConnectionRefusedError):
    """A connection (or datagram) to a non-loopback address, made while the test suite runs."""


def _is_local(host) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host).split("%", 1)[0]  # an IPv6 scope id
    if host in ("", "0.0.0.0", "::") or host.lower() in _LOCAL_NAMES:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:  # a host name: local only if it names this machine
        try:
            resolved = {info[4][0] for info in socket.getaddrinfo(host, None)}
        except OSError:
            return False
        return bool(resolved) and all(_is_local_address(item) for item in resolved)
    return _is_local_address(str(address))


def _is_local_address(text: str) -> bool:
    address = ipaddress.ip_address(text.split("%", 1)[0])
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or address.is_unspecified or bool(mapped and mapped.is_loopback)


def check_address(sock, address) -> None:
    """OutboundConnectionRefused for an AF_INET / AF_INET6 address that is not this machine."""
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return  # AF_UNIX, netlink, ...: never leave the machine
    host = address[0] if isinstance(address, tuple) and address else address
    if _is_local(host):
        return
    message = (
        f"the pbr test suite refuses outbound connections (nothing is ever downloaded): "
        f"{sock.family.name} {address!r} in process {os.getpid()}"
    )
    log = os.environ.get(LOG_VARIABLE)
    if log:
        try:
            with open(log, "a", encoding="utf-8") as handle:
                handle.write(message + "\n")
        except OSError:
            pass
    raise OutboundConnectionRefused(message)


def install() -> None:
    """Wrap socket.socket's connect, connect_ex and sendto (once per process)."""
    if getattr(socket.socket.connect, "_pbr_offline", False):
        return

    def wrap(name, address_of):
        original = getattr(socket.socket, name)

        def guarded(self, *args, **kwargs):
            address = address_of(args)
            if address is not None:
                check_address(self, address)
            return original(self, *args, **kwargs)

        guarded._pbr_offline = True
        guarded.__name__ = guarded.__qualname__ = name
        setattr(socket.socket, name, guarded)

    wrap("connect", lambda args: args[0] if args else None)
    wrap("connect_ex", lambda args: args[0] if args else None)
    wrap("sendto", lambda args: args[-1] if len(args) >= 2 else None)  # (data, address) or (data, flags, address)


def _run_shadowed_sitecustomize() -> None:
    """Run the sitecustomize module that this one hides further down sys.path, if there is one."""
    import importlib.machinery
    import importlib.util

    here = os.path.dirname(os.path.abspath(__file__))
    path = [entry for entry in sys.path if os.path.abspath(entry or os.curdir) != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", path)
    if spec is not None and spec.loader is not None:
        spec.loader.exec_module(importlib.util.module_from_spec(spec))


if os.environ.get(GUARD_VARIABLE) == "1":
    install()
if __name__ == "sitecustomize":
    _run_shadowed_sitecustomize()
