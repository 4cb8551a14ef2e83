"""The decision log: fresh decisions line by line, cache hits summed per interval."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterator

import pytest

from oauthbearer.sidecar import decision_log
from oauthbearer.sidecar.decision_log import DecisionLog
from oauthbearer.sidecar.log_lines import JsonFormatter
from oauthbearer.sidecar.logs import decision_logger

TOKEN = "opaque-token-never-logged"


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[dict[str, object]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(JsonFormatter().format(record)))


@pytest.fixture
def lines() -> Iterator[Lines]:
    handler, level = Lines(), decision_logger.level
    decision_logger.addHandler(handler)
    decision_logger.setLevel(logging.INFO)
    yield handler
    decision_logger.removeHandler(handler)
    decision_logger.setLevel(level)


def test_hits_are_summed_and_fresh_decisions_are_not(lines: Lines) -> None:
    log = DecisionLog(each_hit=False)
    log.decision("broker-1", TOKEN, "active", "upstream", 0.0, None, "orders")
    for _ in range(3):
        log.hit("broker-1", TOKEN, "active", "orders", 0.0)
    log.hit("broker-2", TOKEN, "inactive", None, 0.0)
    assert [line["source"] for line in lines.lines] == ["upstream"]
    assert str(lines.lines[0]["token"]).startswith("sha256:")

    log.flush()
    summaries = [line for line in lines.lines if line["message"] == "cache hits"]
    assert [(s["caller"], s["sub"], s["result"], s["count"]) for s in summaries] == [
        ("broker-1", "orders", "active", 3),
        ("broker-2", None, "inactive", 1),
    ]
    assert all(s["source"] == "cache" for s in summaries)
    assert TOKEN not in json.dumps(lines.lines)
    log.flush()  # nothing new: no line
    assert len([line for line in lines.lines if line["message"] == "cache hits"]) == 2


def test_each_hit_logs_every_hit_as_a_decision(lines: Lines) -> None:
    log = DecisionLog(each_hit=True)
    log.hit("broker-1", TOKEN, "active", "orders", 0.0)
    log.hit("broker-1", TOKEN, "active", "orders", 0.0)
    assert [(line["message"], line["source"]) for line in lines.lines] == [
        ("decision", "cache"),
        ("decision", "cache"),
    ]
    assert log.pending() == {}


def test_a_flood_of_principals_stays_bounded_and_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(decision_log, "MAX_KEYS", 3)
    log = DecisionLog(each_hit=False)
    for i in range(10):
        log.hit("broker-1", TOKEN, "active", f"user-{i}", 0.0)
    pending = log.pending()
    assert len(pending) == 4
    assert pending[("broker-1", None, "active")] == 7
    assert sum(pending.values()) == 10


async def test_the_periodic_flush_writes_at_its_interval_and_at_the_end(lines: Lines) -> None:
    log = DecisionLog(each_hit=False, interval=0.01)
    task = asyncio.create_task(log.run_periodic_flush())
    log.hit("broker-1", TOKEN, "active", "orders", 0.0)
    for _ in range(200):  # bounded: the interval is 10 ms
        if lines.lines:
            break
        await asyncio.sleep(0.01)
    assert lines.lines[0]["count"] == 1
    log.hit("broker-1", TOKEN, "active", "orders", 0.0)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert [line["count"] for line in lines.lines] == [1, 1]  # the last, flushed at the end
