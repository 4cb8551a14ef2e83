"""Revocations across replicas: replay time on start, and propagation between replicas.

    .venv/bin/python -m bench.replication              # 20,000 records, 200 revocations
    .venv/bin/python -m bench.replication --records 2000 --revocations 50

Runs against real Apache Kafka when the bundle is there (tests/support/realkafka.py), else
tansu, and says which. The sidecars are ``oauthbearer serve`` processes at their defaults
(plus the revocations topic). Two measurements, each checking its own validity:

* **replay**: ``--records`` revocation records are in the topic before a replica starts;
  the time from process start to ``/readyz`` 200 is compared with a replica started on an
  empty topic in the same run. Valid only if the replica's ``revocation_entries`` gauge
  then equals the number of records (every one applied, none skipped).
* **propagation**: ``--revocations`` ``POST /revocations`` to replica A, one at a time;
  for each, the webhook's latency (200 means Kafka acknowledged) and the time after the
  200 until replica B's count of applied replicated records has grown by exactly one.

Prints a table, then one JSON object on the last line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka import Producer

from oauthbearer.sidecar.revocation.records import RevocationRecord
from oauthbearer.sidecar.revocation.topic_admin import create_topic
from tests.support.realkafka import RealKafka, bundle_path
from tests.support.sidecar_process import SidecarProcess
from tests.support.tansu import Tansu

TOPIC = "oauthbearer-revocations"
CALLER = ("bench-webhook", "fake-bench-webhook-secret")
APPLIED = (
    'oauthbearer_sidecar_revocation_events_total{outcome="applied",source="replicated",'
    'type="principal"}'
)
ENTRIES = "oauthbearer_sidecar_revocation_entries"


class InvalidRun(RuntimeError):
    """A scenario did not measure what it claims: no figure is printed for it."""


def _env(bootstrap: str) -> dict[str, str]:
    return {
        # An upstream that is never called: the replicas only handle revocations here.
        "OAUTH_INTROSPECT_SERVER": "127.0.0.1:9",
        "OAUTH_INTROSPECT_ENDPOINT": "/introspect",
        "OAUTH_WITH_SSL": "false",
        "OAUTHBEARER_CALLERS": "broker:fake-bench-broker-secret",
        "OAUTHBEARER_EVENT_CALLERS": ":".join(CALLER),
        "OAUTHBEARER_EVENTS_BOOTSTRAP_SERVERS": bootstrap,
        "OAUTHBEARER_REVOCATIONS_TOPIC": TOPIC,
        "OAUTHBEARER_REVOCATION_MAX_TOKEN_LIFETIME": "86400",
        "OAUTHBEARER_LOG_LEVEL": "WARNING",
    }


def _fill(bootstrap: str, count: int) -> None:
    producer = Producer(
        {"bootstrap.servers": bootstrap, "linger.ms": 20, "enable.idempotence": True}
    )
    now = time.time()
    for i in range(count):
        record = RevocationRecord("principal", f"user-{i}", now, "api", f"api:{uuid.uuid4().hex}")
        producer.produce(TOPIC, key=record.key, value=record.encode())
        if i % 10_000 == 0:
            producer.poll(0)
    if producer.flush(60) != 0:
        raise InvalidRun("the records were not all delivered")


def _ready_time(replica: SidecarProcess, expected_entries: int) -> float:
    replica.start()
    seconds = replica.wait_ready(timeout=300)
    entries = replica.metric(ENTRIES)
    if entries != expected_entries:
        raise InvalidRun(f"{replica.name} holds {entries:g} revocations, not {expected_entries}")
    return seconds


def _propagation(a: SidecarProcess, b: SidecarProcess, count: int) -> dict[str, Any]:
    webhook, after = [], []
    for i in range(count):
        before = b.metric(APPLIED)
        started = time.perf_counter()
        response = a.client.post("/revocations", json={"sub": f"live-{i}"}, auth=CALLER)
        acknowledged = time.perf_counter()
        if response.status_code != 200:
            raise InvalidRun(f"webhook answered {response.status_code}")
        while (seen := b.metric(APPLIED)) < before + 1:
            if time.perf_counter() - acknowledged > 10:
                raise InvalidRun("a revocation did not reach replica B within 10 s")
        if seen != before + 1:
            raise InvalidRun("replica B applied more than the one revocation sent")
        webhook.append((acknowledged - started) * 1000)
        after.append((time.perf_counter() - acknowledged) * 1000)
    return {
        "webhook_ms_p50": statistics.median(webhook),
        "webhook_ms_p99": _p99(webhook),
        "after_ack_ms_p50": statistics.median(after),
        "after_ack_ms_p99": _p99(after),
    }


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--revocations", type=int, default=200)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-replication-"))
    bundle = bundle_path()
    broker: RealKafka | Tansu
    if bundle is not None:
        broker, kind = RealKafka(bundle, work, name="kafka"), "Apache Kafka 4.0 (bundle)"
    else:
        broker, kind = Tansu(advertised_port=None, log_dir=work, name="tansu"), "tansu"
    broker.start()
    replicas: list[SidecarProcess] = []
    try:
        env = _env(broker.bootstrap)
        # Created first, so neither replica's start-up includes creating it.
        create_topic({"bootstrap.servers": broker.bootstrap}, TOPIC, retention_seconds=86400)
        empty = SidecarProcess("empty-topic", env, work)
        replicas.append(empty)
        baseline = _ready_time(empty, 0)
        _fill(broker.bootstrap, args.records)
        full = SidecarProcess("full-topic", env, work)
        replicas.append(full)
        replay = _ready_time(full, args.records)
        spread = _propagation(empty, full, args.revocations)
    except InvalidRun as exc:
        print(f"INVALID: {exc}", file=sys.stderr)
        return 1
    finally:
        for replica in replicas:
            replica.close()
        broker.stop()
    result = {
        "broker": kind,
        "records": args.records,
        "ready_empty_s": round(baseline, 3),
        "ready_full_s": round(replay, 3),
        "replay_s": round(replay - baseline, 3),
        "revocations": args.revocations,
        **{k: round(v, 2) for k, v in spread.items()},
    }
    print(f"broker: {kind}")
    print(f"replica ready, empty topic:          {baseline:7.2f} s")
    print(f"replica ready, {args.records:,} records:      {replay:7.2f} s")
    print(
        f"propagation ({args.revocations} revocations): webhook p50 "
        f"{spread['webhook_ms_p50']:.1f} ms p99 {spread['webhook_ms_p99']:.1f} ms; "
        f"other replica after the 200: p50 {spread['after_ack_ms_p50']:.1f} ms "
        f"p99 {spread['after_ack_ms_p99']:.1f} ms"
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
