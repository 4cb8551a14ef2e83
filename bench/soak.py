"""Long-run robustness: capacity, a 10,000-token burst over sockets, then a soak at half
capacity watching the sidecar's RSS, file descriptors and p99. Not run by CI.

    .venv/bin/python -m bench.soak                 # 10-minute soak (the issue's figure)
    .venv/bin/python -m bench.soak --minutes 3     # shorter, e.g. on a shared machine

Everything is on 127.0.0.1: ``bench.fake_upstream`` as the RFC 7662 upstream and the real
``oauthbearer serve`` (one uvicorn worker, pinned to core 1; the load runs on core 0).
The load generator is raw asyncio over keep-alive HTTP/1.1 connections (httpx would be
the bottleneck); latencies are measured from each request's *scheduled* send time, so a
stalled server shows up in p99 instead of silently slowing the sender. One JSON line per
phase and per sample is printed, and a summary at the end; RELIABILITY.md quotes them.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import sys
import time
from dataclasses import dataclass, field

from bench.procs import LOAD_CORE, START_TIMEOUT_S, VENV_BIN, Proc, pinned
from tests.support.ports import free_port, wait_for_port

CALLERS = {f"soak-broker-{i}": f"fake-soak-secret-{i}" for i in range(4)}
AUTHS = ["Basic " + base64.b64encode(f"{k}:{v}".encode()).decode() for k, v in CALLERS.items()]
TOKEN_POOL = 20_000  # distinct tokens cycled through (--pool)


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0

    def add(self, status: int, latency: float) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1
        self.latencies.append(latency)

    def p(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000


def _request(token: str, auth: str) -> bytes:
    body = f"token={token}".encode()
    return (
        f"POST /oauth2/introspect HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {auth}\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    return status


class Connection:
    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def send(self, payload: bytes, timeout: float) -> int:
        async with asyncio.timeout(timeout):
            if self.writer is None or self.reader is None:
                self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
            self.writer.write(payload)
            await self.writer.drain()
            return await _read_response(self.reader)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def closed_loop(port: int, seconds: float, connections: int) -> float:
    """Requests per second the sidecar sustains with ``connections`` busy connections."""
    done = 0
    stop = time.perf_counter() + seconds

    async def worker(n: int) -> None:
        nonlocal done
        conn = Connection(port)
        i = n
        while time.perf_counter() < stop:
            await conn.send(_request(f"cap-token-{i % TOKEN_POOL}", AUTHS[n % 4]), 10)
            done += 1
            i += connections
        conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(connections)))
    return done / (time.perf_counter() - started)


async def burst(port: int, count: int, connections: int, timeout: float) -> dict[str, object]:
    """``count`` distinct, never-seen tokens at once; every one must be answered in time."""
    tally = Tally()
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)
    started = time.perf_counter()

    async def worker(n: int) -> None:
        conn = Connection(port)
        while not queue.empty():
            i = queue.get_nowait()
            sent = time.perf_counter()
            try:
                status = await conn.send(_request(f"burst-token-{i}", AUTHS[i % 4]), timeout)
            except (TimeoutError, OSError, asyncio.IncompleteReadError):
                tally.errors += 1
                conn.close()
                continue
            # Latency from the burst's start: every request was issued at that instant.
            tally.add(status, time.perf_counter() - started)
            del sent
        conn.close()

    await asyncio.gather(*(worker(n) for n in range(connections)))
    return {
        "phase": "burst",
        "requests": count,
        "answered": sum(tally.statuses.values()),
        "statuses": tally.statuses,
        "errors": tally.errors,
        "wall_s": round(time.perf_counter() - started, 2),
        "p50_ms": round(tally.p(0.5), 1),
        "p99_ms": round(tally.p(0.99), 1),
        "max_ms": round(max(tally.latencies, default=0) * 1000, 1),
    }


async def open_loop(
    port: int, rate: float, seconds: float, connections: int, sample: float, proc: Proc
) -> list[dict[str, object]]:
    """``rate`` requests/s for ``seconds``; a sample of RSS, fds and latency every ``sample`` s."""
    windows: list[dict[str, object]] = []
    tally = Tally()
    per_conn = rate / connections
    start = time.perf_counter()

    async def worker(n: int) -> None:
        conn = Connection(port)
        k = 0
        while True:
            due = start + k / per_conn + n / rate
            if due - start > seconds:
                break
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            token = f"soak-token-{(k * connections + n) % TOKEN_POOL}"
            try:
                status = await conn.send(_request(token, AUTHS[n % 4]), 10)
                tally.add(status, time.perf_counter() - due)
            except (TimeoutError, OSError, asyncio.IncompleteReadError):
                tally.errors += 1
                conn.close()
            k += 1
        conn.close()

    async def sampler() -> None:
        nonlocal tally
        while True:
            await asyncio.sleep(sample)
            window, tally = tally, Tally()
            windows.append(
                {
                    "phase": "soak",
                    "t_s": round(time.perf_counter() - start),
                    "rss_mib": round(proc.rss_kib() / 1024, 1),
                    "fds": len(os.listdir(f"/proc/{proc.pid}/fd")),
                    "requests": len(window.latencies),
                    "rps": round(len(window.latencies) / sample, 1),
                    "p50_ms": round(window.p(0.5), 2),
                    "p99_ms": round(window.p(0.99), 2),
                    "statuses": window.statuses,
                    "errors": window.errors,
                }
            )
            print(json.dumps(windows[-1]), flush=True)

    sampling = asyncio.create_task(sampler())
    await asyncio.gather(*(worker(n) for n in range(connections)))
    sampling.cancel()
    return windows


def _start(delay: float, extra_env: dict[str, str]) -> tuple[Proc, Proc, int]:
    upstream = Proc(
        pinned(LOAD_CORE, [sys.executable, "-m", "bench.fake_upstream", "--delay", str(delay)])
    )
    upstream_port = int(upstream.ready_line())
    port = free_port()
    env = {
        "OAUTH_INTROSPECT_SERVER": f"127.0.0.1:{upstream_port}",
        "OAUTH_INTROSPECT_ENDPOINT": "/introspect",
        "OAUTH_WITH_SSL": "false",
        "OAUTHBEARER_LISTEN": f"127.0.0.1:{port}",
        "OAUTHBEARER_CALLERS": ",".join(f"{k}:{v}" for k, v in CALLERS.items()),
        "OAUTHBEARER_LOG_LEVEL": "WARNING",
        **extra_env,
    }
    sidecar = Proc(pinned("1", [str(VENV_BIN / "oauthbearer"), "serve"]), env)
    wait_for_port(port, START_TIMEOUT_S)
    return upstream, sidecar, port


async def main(args: argparse.Namespace) -> None:
    summary: dict[str, object] = {}
    # 1. the burst: a slow upstream (100 ms), per-caller limits off (the raw bound), 10 s
    # client timeout
    upstream, sidecar, port = _start(
        0.1, {"OAUTHBEARER_UPSTREAM_TIMEOUT": "3", "OAUTHBEARER_CALLER_MAX_INFLIGHT": "0"}
    )
    try:
        rss_before = sidecar.rss_kib()
        result = await burst(port, args.burst, args.burst_connections, timeout=10.0)
        result["sidecar_rss_before_mib"] = round(rss_before / 1024, 1)
        result["sidecar_rss_after_mib"] = round(sidecar.rss_kib() / 1024, 1)
        print(json.dumps(result), flush=True)
        summary["burst"] = result
    finally:
        sidecar.stop()
        upstream.stop()

    # 2. capacity, then the soak at half of it, on a fresh sidecar with a 5 ms upstream
    upstream, sidecar, port = _start(0.005, {})
    try:
        capacity = await closed_loop(port, args.capacity_seconds, 64)
        print(json.dumps({"phase": "capacity", "rps": round(capacity, 1)}), flush=True)
        windows = await open_loop(port, capacity / 2, args.minutes * 60, 32, args.sample, sidecar)
    finally:
        sidecar.stop()
        upstream.stop()
    settled = windows[1:] or windows  # the first window includes the cache filling up
    summary["soak"] = {
        "minutes": args.minutes,
        "target_rps": round(capacity / 2, 1),
        "capacity_rps": round(capacity, 1),
        "requests": sum(int(str(w["requests"])) for w in windows),
        "errors": sum(int(str(w["errors"])) for w in windows),
        "statuses": _merge([w["statuses"] for w in windows]),
        "rss_mib_first_last": [settled[0]["rss_mib"], settled[-1]["rss_mib"]],
        "rss_mib_max": max(float(str(w["rss_mib"])) for w in settled),
        "fds_first_last": [settled[0]["fds"], settled[-1]["fds"]],
        "p99_ms_per_window": [w["p99_ms"] for w in windows],
    }
    print(json.dumps({"summary": summary}), flush=True)


def _merge(dicts: list[object]) -> dict[str, int]:
    merged: dict[str, int] = {}
    for d in dicts:
        assert isinstance(d, dict)
        for k, v in d.items():
            merged[str(k)] = merged.get(str(k), 0) + int(v)
    return merged


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--minutes", type=float, default=10.0, help="soak duration")
    parser.add_argument("--sample", type=float, default=30.0, help="seconds per sample window")
    parser.add_argument("--burst", type=int, default=10_000, help="distinct tokens in the burst")
    parser.add_argument("--burst-connections", type=int, default=1_000)
    parser.add_argument("--capacity-seconds", type=float, default=15.0)
    parser.add_argument(
        "--pool",
        type=int,
        default=TOKEN_POOL,
        help="distinct tokens cycled through: many → upstream calls (the default), few → hits",
    )
    parsed = parser.parse_args()
    TOKEN_POOL = parsed.pool
    asyncio.run(main(parsed))
