"""Load generators: wrk for throughput and latency, an asyncio client for the herd."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bench.procs import LOAD_CORE, pinned

LUA = Path(__file__).resolve().parent / "post.lua"
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


@dataclass(frozen=True)
class LoadResult:
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    errors: int

    def as_dict(self) -> dict[str, float | int]:
        return {
            "requests": self.requests,
            "rps": round(self.rps, 1),
            "p50_ms": round(self.p50_ms, 3),
            "p99_ms": round(self.p99_ms, 3),
            "non_2xx": self.non_2xx,
            "errors": self.errors,
        }


def _ms(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", value)
    if match is None:
        raise ValueError(f"cannot read wrk latency {value!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def wrk(
    url: str, tokens_file: Path, *, auth: str | None, seconds: float, connections: int = 32
) -> LoadResult:
    """One wrk run, one thread pinned to the load core, POSTing tokens from the file."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (bench/run installs it with apt-get)")
    path = "/" + url.split("/", 3)[3]
    env = {"BENCH_PATH": path, "BENCH_TOKENS": str(tokens_file)}
    if auth:
        env["BENCH_AUTH"] = auth
    argv = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        "-s",
        str(LUA),
        url,
    ]
    out = subprocess.run(
        pinned(LOAD_CORE, argv),
        env={**env, "PATH": "/usr/bin:/bin:/usr/local/bin"},
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    ).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return LoadResult(
        requests=requests,
        rps=rps,
        p50_ms=p50,
        p99_ms=p99,
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        errors=sum(int(g) for g in errors.groups()) if errors else 0,
    )


@dataclass(frozen=True)
class HerdResult:
    requests: int
    statuses: dict[int, int]
    p50_ms: float
    p99_ms: float


async def _herd(url: str, token: str, auth: str, concurrency: int) -> HerdResult:
    # Raw sockets, every connection open before the gate: the herd measures the server's
    # single flight, not a client library's pool (httpx's scan is quadratic at 1,000).
    host_port = url.split("/", 3)[2]
    host, port = host_port.rsplit(":", 1)
    path = "/" + url.split("/", 3)[3]
    body = f"token={token}".encode()
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {host_port}\r\nAuthorization: {auth}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body
    connections = [await asyncio.open_connection(host, int(port)) for _ in range(concurrency)]
    gate = asyncio.Event()

    async def one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> tuple[int, float]:
        await gate.wait()
        start = time.perf_counter()
        writer.write(request)
        await writer.drain()
        response = await reader.read()  # Connection: close → read to EOF
        elapsed = (time.perf_counter() - start) * 1000
        writer.close()
        status = int(response.split(b" ", 2)[1]) if response.startswith(b"HTTP/") else 0
        return status, elapsed

    tasks = [asyncio.create_task(one(r, w)) for r, w in connections]
    await asyncio.sleep(0.1)  # every task is parked on the gate
    gate.set()
    results = await asyncio.gather(*tasks)
    latencies = sorted(ms for _, ms in results)
    statuses: dict[int, int] = {}
    for status, _ in results:
        statuses[status] = statuses.get(status, 0) + 1
    return HerdResult(
        requests=len(results),
        statuses=statuses,
        p50_ms=latencies[len(latencies) // 2],
        p99_ms=latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
    )


def herd(url: str, token: str, auth: str, concurrency: int = 1000) -> HerdResult:
    """``concurrency`` requests for one token, released at the same instant."""
    return asyncio.run(_herd(url, token, auth, concurrency))
