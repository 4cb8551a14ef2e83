"""The token provider: ``oauth_cb`` latency on a cached token, and fetches made by 100
Kafka clients in one process over three refresh cycles, against the real authorization
server."""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from oauthbearer.client.confluent import make_oauth_cb
from oauthbearer.client.provider import TokenCache, TokenProvider
from tests.support.idp import Idp, _make_clients

CLIENTS = 100
TOKEN_TTL_S = 5  # short, so three refresh cycles fit in a benchmark run


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
    # Nothing listens on port 9: the clients only need tokens, which librdkafka asks for at
    # start-up and again at 80 % of each token's remaining lifetime.
    conf = {
        "bootstrap.servers": "127.0.0.1:9",
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanisms": "OAUTHBEARER",
        "oauth_cb": oauth_cb,
        "log_level": 0,
    }
    producers: list[Any] = []
    try:
        start = time.monotonic()
        # confluent-kafka's constructor waits for the first token in 1 s steps, so 100 built
        # one after another would take 100 s; built concurrently they take about one.
        with ThreadPoolExecutor(CLIENTS) as pool:
            producers = list(pool.map(lambda _: Producer(conf), range(CLIENTS)))
        built = time.monotonic() - start
        refresh_period = provider.settings.refresh_fraction * TOKEN_TTL_S
        # End mid-period: refreshes are jittered by ± 5 % of the lifetime, so stopping on
        # a multiple of the period would count a refresh that lands either side of it.
        run_for = (cycles + 0.5) * refresh_period
        while time.monotonic() - start < run_for:
            for producer in producers:
                producer.poll(0)
            time.sleep(0.05)
        elapsed = time.monotonic() - start
    finally:
        fetches = provider.fetch_count
        producers.clear()
        provider.close()
        idp.stop()
    # The first fetch, then one per refresh period that has fully passed.
    cycles_seen = 1 + int(elapsed // refresh_period)
    return {
        "clients": CLIENTS,
        "token_ttl_s": TOKEN_TTL_S,
        "seconds_to_build_clients": round(built, 2),
        "seconds": round(elapsed, 1),
        "refresh_cycles": cycles_seen,
        "fetches": fetches,
        "fetches_per_cycle": round(fetches / cycles_seen, 2),
    }


def measure(idp: Idp, work: Path, *, quick: bool) -> dict[str, Any]:
    return {
        "oauth_cb_cached": _latency(idp, 20_000 if quick else 200_000),
        "many_clients": _many_clients(work, cycles=3),
    }
