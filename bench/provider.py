"""The token provider: ``oauth_cb`` latency on a cached token, and fetches made by 100
Kafka clients in one process over three refresh cycles, against the real authorization
server."""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

from oauthbearer.client.confluent import make_oauth_cb
from oauthbearer.client.provider import TokenCache, TokenProvider
from tests.support.idp import Idp, _make_clients

CLIENTS = 100
TOKEN_TTL_S = 6  # short, so three refresh cycles fit in a benchmark run


def _latency(idp: Idp, calls: int) -> dict[str, Any]:
    provider = TokenProvider.from_env(idp.env_for("basic"), cache=TokenCache())
    oauth_cb = make_oauth_cb(provider)
    oauth_cb(None)  # the one fetch
    samples = []
    for _ in range(calls):
        start = time.perf_counter_ns()
        oauth_cb(None)
        samples.append(time.perf_counter_ns() - start)
    samples.sort()
    fetches = provider.fetch_count
    provider.close()
    return {
        "calls": calls,
        "p50_us": round(samples[len(samples) // 2] / 1000, 2),
        "p99_us": round(samples[int(len(samples) * 0.99)] / 1000, 2),
        "mean_us": round(statistics.fmean(samples) / 1000, 2),
        "fetches": fetches,
    }


def _many_clients(work: Path, cycles: int) -> dict[str, Any]:
    from confluent_kafka import Producer

    idp = Idp(_make_clients(), access_token_ttl=TOKEN_TTL_S, log_dir=work).start()
    provider = TokenProvider.from_env(idp.env_for("basic"), cache=TokenCache())
    oauth_cb = make_oauth_cb(provider)
    producers = []
    try:
        start = time.monotonic()
        for _ in range(CLIENTS):
            # Nothing listens on port 9: the clients only need tokens, which librdkafka asks
            # for at start-up and again at 80 % of each token's remaining lifetime.
            producers.append(
                Producer(
                    {
                        "bootstrap.servers": "127.0.0.1:9",
                        "security.protocol": "SASL_PLAINTEXT",
                        "sasl.mechanisms": "OAUTHBEARER",
                        "oauth_cb": oauth_cb,
                        "log_level": 0,
                        "reconnect.backoff.max.ms": 10_000,
                    }
                )
            )
        run_for = cycles * TOKEN_TTL_S
        while time.monotonic() - start < run_for:
            for producer in producers:
                producer.poll(0)
            time.sleep(0.05)
        elapsed = time.monotonic() - start
    finally:
        fetches = provider.fetch_count
        for producer in producers:
            producer.flush(0)
        producers.clear()
        provider.close()
        idp.stop()
    return {
        "clients": CLIENTS,
        "token_ttl_s": TOKEN_TTL_S,
        "seconds": round(elapsed, 1),
        "token_lifetimes_elapsed": round(elapsed / TOKEN_TTL_S, 2),
        "fetches": fetches,
    }


def measure(idp: Idp, work: Path, *, quick: bool) -> dict[str, Any]:
    return {
        "oauth_cb_cached": _latency(idp, 20_000 if quick else 200_000),
        "many_clients": _many_clients(work, cycles=3),
    }
