"""The JSON log lines (sidecar/log_lines.py) and their batched writer (sidecar/logs.py)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import math
import threading
import time
from collections.abc import Iterator

import pytest
import respx
from joserfc.jwk import RSAKey

from oauthbearer._secret import fingerprint
from oauthbearer.sidecar import logs
from oauthbearer.sidecar.decision_log import DecisionLog
from oauthbearer.sidecar.log_lines import decision_line, json_line
from oauthbearer.sidecar.logs import BatchedLines, configure_logging, emit_decision
from oauthbearer.sidecar.verdict import token_key
from tests.unit.sidecar.conftest import FakeClock, jwks_of, make_settings, running, sign


class CountingStream(io.StringIO):
    """A text stream that counts its writes (a write is a syscall on a real stderr)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


@pytest.mark.parametrize(
    "value",
    [
        "plain",
        'quote " backslash \\ newline \n tab \t',
        "non-ASCII: é ü 中 😀",
        "\x00\x1f control",
        None,
        True,
        False,
        0,
        -7,
        2**70,
        0.089,
        1e-7,
        float("nan"),
        float("inf"),
        ["a", 1, None],
        {"nested": {"x": [1.5]}},
        object(),  # not JSON: rendered by str(), as the formatter always did
    ],
)
def test_a_line_is_the_json_of_its_fields(value: object) -> None:
    line = json_line(
        1796081845.9731234, "INFO", "oauthbearer.sidecar.decision", "decision", {"field": value}
    )
    expected = {
        "time": 1796081845.973,
        "level": "INFO",
        "logger": "oauthbearer.sidecar.decision",
        "message": "decision",
        "field": json.loads(json.dumps(value, default=str)),
    }
    parsed = json.loads(line)
    if isinstance(value, float) and math.isnan(value):
        assert math.isnan(parsed.pop("field"))
        expected.pop("field")
    assert parsed == expected
    assert "\n" not in line  # one record, one line, whatever the values hold


def test_a_message_and_keys_are_escaped_too() -> None:
    line = json_line(0.0, "WARNING", 'a"b', "line\nbreak", {'k"ey': 1})
    assert json.loads(line) == {
        "time": 0.0,
        "level": "WARNING",
        "logger": 'a"b',
        "message": "line\nbreak",
        'k"ey': 1,
    }


@pytest.mark.parametrize("sub", ["orders", None, 42, ["a", "b"], 'q"uote\n', "Zoë 😀"])
@pytest.mark.parametrize("reason", [None, "signature does not verify", "kid '\u2028x' \"y\""])
@pytest.mark.parametrize(("caller", "token"), [("broker-1", "sha256:0f39ea04cf56"), (None, None)])
def test_a_decision_line_is_the_json_line_of_its_fields(
    sub: object, reason: str | None, caller: str | None, token: str | None
) -> None:
    fields: dict[str, object] = {
        "caller": caller,
        "token": token,
        "sub": sub,
        "result": "inactive",
        "source": "jwks",
        "latency_ms": 0.071,
    }
    if reason is not None:
        fields["reason"] = reason
    expected = json_line(
        1796081845.9731234, "INFO", "oauthbearer.sidecar.decision", "decision", fields
    )
    line = decision_line(
        1796081845.9731234, "INFO", caller, token, sub, "inactive", "jwks", 0.071, reason
    )
    # The same object with its keys in the same order (numbers may be spelled otherwise:
    # decision lines write three decimals).
    assert list(json.loads(line).items()) == list(json.loads(expected).items())
    assert "\n" not in line


async def test_the_lines_of_one_event_loop_turn_leave_in_one_write() -> None:
    stream = CountingStream()
    lines = BatchedLines(stream)
    for i in range(5):
        lines.write(f'{{"n": {i}}}')
    assert stream.getvalue() == ""  # not before the turn ends
    await asyncio.sleep(0)
    assert stream.getvalue().splitlines() == [f'{{"n": {i}}}' for i in range(5)]
    assert stream.writes == 1

    lines.write('{"n": 5}')
    await asyncio.sleep(0)
    assert stream.getvalue().splitlines()[-1] == '{"n": 5}'
    assert stream.writes == 2


def test_without_an_event_loop_a_line_is_written_at_once() -> None:
    stream = CountingStream()
    lines = BatchedLines(stream)
    lines.write("first")
    lines.write("second")
    assert stream.getvalue() == "first\nsecond\n"


async def test_a_line_from_another_thread_keeps_the_order_of_what_is_pending() -> None:
    stream = CountingStream()
    lines = BatchedLines(stream)
    lines.write("from the loop")
    thread = threading.Thread(target=lines.write, args=("from a thread",))
    thread.start()
    thread.join()
    await asyncio.sleep(0)
    assert stream.getvalue() == "from the loop\nfrom a thread\n"


def test_a_broken_stream_does_not_fail_the_caller() -> None:
    stream = io.StringIO()
    stream.close()
    BatchedLines(stream).write("lost, but no exception")


@pytest.fixture
def configured() -> Iterator[CountingStream]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, logs._installed, logs.decision_logger.level)
    stream = CountingStream()
    configure_logging("INFO", stream)
    logs.decision_logger.setLevel(logging.NOTSET)  # as in `oauthbearer serve`
    yield stream
    root.handlers[:], level, logs._installed, decision_level = saved
    root.setLevel(level)
    logs.decision_logger.setLevel(decision_level)


def only_ours() -> None:
    """Remove pytest's capture handler from the root logger, as in `oauthbearer serve`
    (pytest adds it again for each test phase, after fixtures ran)."""
    assert logs._installed is not None
    logging.getLogger().handlers[:] = [logs._installed]


async def test_decisions_are_batched_and_records_keep_their_place(
    configured: CountingStream,
) -> None:
    only_ours()
    decision_fields = {"caller": "broker-1", "result": "active"}
    emit_decision(logging.INFO, "decision", decision_fields)
    emit_decision(logging.INFO, "decision", decision_fields)
    assert configured.getvalue() == ""  # decisions wait for the end of the turn
    await asyncio.sleep(0)
    assert configured.writes == 1  # ... and leave together

    emit_decision(logging.INFO, "decision", decision_fields)
    # Any other record is written at once (uvicorn re-raises SIGTERM right after its
    # last lines: no later turn would write them), after the decision queued before it.
    # (A logger of this test's own: other tests set uvicorn's loggers' levels.)
    logging.getLogger("tests.unit.sidecar.test_logs").warning("Application shutdown complete.")
    lines = [json.loads(line) for line in configured.getvalue().splitlines()]
    assert [line["message"] for line in lines] == [
        "decision",
        "decision",
        "decision",
        "Application shutdown complete.",
    ]
    assert lines[0]["logger"] == "oauthbearer.sidecar.decision"
    assert lines[0]["caller"] == "broker-1"


@contextlib.contextmanager
def a_handler_on_the_decision_logger() -> Iterator[list[logging.LogRecord]]:
    """An application's own handler on the decision logger, collecting its records."""
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Collect()
    logs.decision_logger.addHandler(handler)
    try:
        yield records
    finally:
        logs.decision_logger.removeHandler(handler)


async def test_a_handler_on_the_decision_logger_still_gets_its_records(
    configured: CountingStream,
) -> None:
    only_ours()
    with a_handler_on_the_decision_logger() as records:
        emit_decision(logging.INFO, "decision", {"caller": "broker-1"})
    await asyncio.sleep(0)
    assert [getattr(r, "decision", None) for r in records] == [{"caller": "broker-1"}]
    # It propagated to the configured stream as well, as any record does.
    assert json.loads(configured.getvalue())["caller"] == "broker-1"


async def test_a_decision_reads_the_same_straight_or_through_logging(
    configured: CountingStream,
) -> None:
    only_ours()
    log = DecisionLog(each_hit=False)
    log.decision("broker-1", "a-token", "inactive", "jwks", 0.0, "expired", "orders")
    await asyncio.sleep(0)
    with a_handler_on_the_decision_logger() as records:  # now it must go through logging
        log.decision("broker-1", "a-token", "inactive", "jwks", 0.0, "expired", "orders")
    await asyncio.sleep(0)
    straight, through_logging = (json.loads(line) for line in configured.getvalue().splitlines())
    assert len(records) == 1
    for line in (straight, through_logging):
        del line["time"], line["latency_ms"]
    assert straight == through_logging
    assert straight["token"].startswith("sha256:")
    assert straight["reason"] == "expired"


async def test_a_queued_decision_is_spelled_out_in_its_place_when_written(
    configured: CountingStream,
) -> None:
    # Decisions wait in the queue as raw fields (the token's digest, the elapsed
    # seconds) and become JSON when the turn's lines are written: the line must carry
    # the token's fingerprint, never the token, and keep its place before a record
    # written at once.
    only_ours()
    log = DecisionLog(each_hit=False)
    before = time.time()
    started = time.perf_counter() - 0.0125
    log.decision(
        "broker-1", "a-token", "active", "jwks", started, None, "orders", key=token_key("a-token")
    )
    log.decision("broker-1", "b-token", "inactive", "jwks", started, "expired")
    assert configured.getvalue() == ""
    logging.getLogger("tests.unit.sidecar.test_logs").warning("after the decisions")
    text = configured.getvalue()
    assert "a-token" not in text
    assert "b-token" not in text
    first, second, warning = (json.loads(line) for line in text.splitlines())
    assert first["token"] == fingerprint("a-token")
    assert second["token"] == fingerprint("b-token")
    assert (first["sub"], first["result"], second["reason"]) == ("orders", "active", "expired")
    assert 12.5 <= first["latency_ms"] < 1000
    assert before - 0.001 <= first["time"] <= time.time() + 0.001
    assert warning["message"] == "after the decisions"


async def test_no_request_url_reaches_the_log_at_the_default_level(
    configured: CountingStream, rsa_key: RSAKey, clock: FakeClock
) -> None:
    # httpx logs each request's whole URL at INFO: a JWKS URL's user:password and
    # access_token were written on every fetch, though ours show them masked.
    saved = {name: logging.getLogger(name).level for name in ("httpx", "httpcore")}
    configure_logging("INFO", configured)  # again: the fixture's call came first
    only_ours()
    url = "https://admin:fake-url-password@idp.example/jwks?access_token=fake-url-token"
    router = respx.MockRouter(assert_all_called=False)
    router.get(url).respond(200, json=jwks_of(rsa_key))
    try:
        async with running(make_settings(jwks_url=url), router, clock) as h:
            assert (await h.introspect(sign(rsa_key, {}))).json()["active"] is True
        text = configured.getvalue()
        assert '"logger": "oauthbearer.sidecar.decision"' in text  # the log was written
        assert "fake-url-password" not in text
        assert "fake-url-token" not in text
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)
