"""Loopback port helpers for test fixtures (test infrastructure)."""

from __future__ import annotations

import socket
import time

__all__ = ["free_port", "free_ports", "wait_for_port"]


def free_port() -> int:
    """An ephemeral loopback port that was free a moment ago.

    Only for processes that cannot listen on port 0 and report the port back (tansu
    takes a URL); the small race with other processes is accepted in tests.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def free_ports(count: int) -> list[int]:
    """``count`` distinct free loopback ports.

    Each socket stays bound until all are chosen: calls of :func:`free_port` one after
    the other may hand out the same port twice (the system reuses a port just released),
    and a broker given one port for two listeners refuses to start.
    """
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def wait_for_port(port: int, timeout: float, host: str = "127.0.0.1") -> None:
    """Return once ``host:port`` accepts a TCP connection; TimeoutError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError as exc:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{host}:{port} not accepting within {timeout} s") from exc
            time.sleep(0.02)
