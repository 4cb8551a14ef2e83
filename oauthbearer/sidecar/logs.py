"""Structured JSON logs: one line per introspection decision, never a token or a secret.

A decision line carries the caller id, a short SHA-256 fingerprint of the token (enough to
correlate with the client side's logs, useless to replay), ``sub``, the result, the
deciding source (``cache``, ``jwks``, ``upstream``, ``none``), the latency and, for
inactive or failed results, a reason. ``sub`` is a principal name, not a credential.

``oauthbearer serve`` (:func:`configure_logging`) writes every line through one
:class:`BatchedLines`. Decision lines skip the ``logging`` machinery (record, handler,
formatter) when nothing but that handler would see them (:func:`emit_decision`), and the
decision lines of one event-loop turn leave in one write, after the turn's responses:
at the defaults a JWKS-verified cold decision is one line, and a line through
``logging``, written and flushed on its own, cost more than the RSA verification
(issue 14). A decision is queued as its raw fields (:class:`PendingDecision`) and
spelled out as JSON only when the turn's lines are written: formatting it beside the
request, between one RSA check and the next, cost the cold path 12 % of its throughput,
and all of a turn's lines formatted together cost a fraction of that. Every other record
is written at once, after the decisions queued before it.

Example:
    >>> import logging
    >>> record = logging.LogRecord("oauthbearer.sidecar.decision", logging.INFO, "", 0,
    ...                            "decision", None, None)
    >>> record.decision = {"result": "active", "source": "cache"}
    >>> line = json.loads(JsonFormatter().format(record))
    >>> line["message"], line["result"], line["source"]
    ('decision', 'active', 'cache')
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import sys
import threading
import time
from collections.abc import Mapping
from json.encoder import encode_basestring
from typing import Any, TextIO

from oauthbearer._secret import fingerprint_of_digest

__all__ = [
    "BatchedLines",
    "JsonFormatter",
    "PendingDecision",
    "configure_logging",
    "decision_line",
    "decision_logger",
    "direct_lines",
    "emit_decision",
    "json_line",
    "pending_line",
]

#: The logger every decision line goes to.
decision_logger = logging.getLogger("oauthbearer.sidecar.decision")

# For values that are not a plain string or number (json.dumps with non-default options
# would build a new encoder per call).
_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)


def _json_value(value: object) -> str:
    kind = value.__class__
    if kind is str:
        return encode_basestring(value)  # type: ignore[arg-type]  # kind is str
    if value is None:
        return "null"
    if kind is int or (kind is float and math.isfinite(value)):  # type: ignore[arg-type]
        return repr(value)
    return _ENCODER.encode(value)


def json_line(
    created: float, level: str, logger: str, message: str, fields: Mapping[str, Any] | None
) -> str:
    """One log line as JSON (no newline): the fixed keys first, then ``fields``.

    Assembled from its parts rather than by encoding a dict: a line per cold decision is
    on the hot path, and this is less than two thirds of the encoder's cost per line.

    Example:
        >>> json_line(1.0, "INFO", "x", "hi", {"n": 2})
        '{"time": 1.000, "level": "INFO", "logger": "x", "message": "hi", "n": 2}'
    """
    parts = [
        f'{{"time": {created:.3f}, "level": {encode_basestring(level)}, '
        f'"logger": {encode_basestring(logger)}, "message": {encode_basestring(message)}'
    ]
    if fields:
        for key, value in fields.items():
            parts.append(f", {encode_basestring(key)}: {_json_value(value)}")
    parts.append("}")
    return "".join(parts)


class JsonFormatter(logging.Formatter):
    """One JSON object per line; a ``decision`` dict on the record is merged in."""

    def format(self, record: logging.LogRecord) -> str:
        decision = getattr(record, "decision", None)
        fields: dict[str, Any] = dict(decision) if isinstance(decision, dict) else {}
        if record.exc_info and record.exc_info[0] is not None:
            # The exception type only: a traceback could quote locals such as a token.
            fields["exception"] = record.exc_info[0].__name__
        return json_line(record.created, record.levelname, record.name, record.getMessage(), fields)


#: A decision line's fields, queued as they are and spelled out when the turn's lines are
#: written (:func:`pending_line`): ``(created, level, caller, token, sub, result, source,
#: elapsed, reason)``, where ``token`` is the token's SHA-256 digest (fingerprinted when
#: written) or its fingerprint, and ``elapsed`` the latency in seconds. A plain tuple: one
#: is made per cold decision, and a named tuple's constructor cost five times as much.
PendingDecision = tuple[
    float, str, "str | None", "bytes | str | None", object, str, str, float, "str | None"
]


def pending_line(item: PendingDecision) -> str:
    """The JSON line of a queued decision (:func:`decision_line`).

    Example:
        >>> pending_line((1.5, "INFO", "b", bytes.fromhex("0f39ea04cf56"), "o", "active",
        ...               "jwks", 0.00007, None)) == decision_line(
        ...     1.5, "INFO", "b", "sha256:0f39ea04cf56", "o", "active", "jwks", 0.07, None)
        True
    """
    created, level, caller, token, sub, result, source, elapsed, reason = item
    label = fingerprint_of_digest(token) if isinstance(token, bytes) else token
    return decision_line(created, level, caller, label, sub, result, source, elapsed * 1000, reason)


class BatchedLines:
    """Whole lines to a text stream, written together once per event-loop turn.

    Outside a running event loop (start-up, shutdown, other threads) a line is written at
    once, after whatever is pending, so lines keep their order.

    Example:
        >>> import io
        >>> out = io.StringIO()
        >>> lines = BatchedLines(out)
        >>> lines.write('{"a": 1}')
        >>> out.getvalue()
        '{"a": 1}\\n'
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._pending: list[str | PendingDecision] = []
        # Lines may come from other threads (the Kafka client's callbacks log).
        self._lock = threading.Lock()

    def write(self, line: str | PendingDecision) -> None:
        """Queue ``line`` for the end of this event-loop turn (or write it now)."""
        with self._lock:
            self._pending.append(line)
            if len(self._pending) > 1:
                return  # a flush is already scheduled
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        loop.call_soon(self.flush)

    def write_now(self, line: str) -> None:
        """Write ``line`` at once, after whatever is queued.

        For lines that must not wait for the end of the turn: uvicorn logs its last
        lines and then re-raises the SIGTERM it caught, which ends the process before
        another turn of the loop.
        """
        with self._lock:
            self._pending.append(line)
            self._write_pending()

    def flush(self) -> None:
        """Write every queued line, in order, in one write."""
        with self._lock:
            self._write_pending()

    def _write_pending(self) -> None:
        if self._pending:
            # Taken first: a line that could not be spelled out must not stay queued and
            # fail every write after it.
            pending, self._pending = self._pending, []
            text = "\n".join(
                [item if isinstance(item, str) else pending_line(item) for item in pending]
            )
            text += "\n"
            try:
                self._stream.write(text)
                self._stream.flush()
            except (OSError, ValueError):
                pass  # a closed or broken stderr must not fail a request


class _BatchedHandler(logging.Handler):
    """The ``logging`` side of :class:`BatchedLines`: records formatted as JSON lines,
    written at once (start-up, shutdown, warnings: few, and they must not be lost)."""

    def __init__(self, lines: BatchedLines) -> None:
        super().__init__()
        self.lines = lines
        self.setFormatter(JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.write_now(self.format(record))
        except Exception:  # noqa: BLE001 - logging's own contract: never raise from emit
            self.handleError(record)

    def flush(self) -> None:
        self.lines.flush()


_installed: _BatchedHandler | None = None


def direct_lines() -> BatchedLines | None:
    """Where decision lines may be written straight, or None: then through ``logging``.

    Straight to the batched stream when only the handler :func:`configure_logging`
    installed would see the record; through ``logging`` otherwise (a handler of the
    embedding application's or a test's must get its records).
    """
    handler = _installed
    if handler is None:
        return None
    lines = handler.lines
    # Lines queued and not yet flushed were queued by this function's callers in this
    # event-loop turn, after the check below passed: it still holds (handlers are not
    # added in the middle of a turn), and the turn's other lines skip it. The check walks
    # the logger tree: a twentieth of a cold decision's bytecode, once per line.
    if lines._pending or _only_root_sees_decisions(handler):
        return lines
    return None


def emit_decision(level: int, message: str, fields: Mapping[str, Any]) -> None:
    """Write one decision line (the caller checked ``decision_logger.isEnabledFor``)."""
    lines = direct_lines()
    if lines is not None:
        name = logging.getLevelName(level)
        lines.write(json_line(time.time(), name, decision_logger.name, message, fields))
        return
    decision_logger.log(level, message, extra={"decision": dict(fields)})


def decision_line(
    created: float,
    level: str,
    caller: str | None,
    token: str | None,
    sub: object,
    result: str,
    source: str,
    latency_ms: float,
    reason: str | None,
) -> str:
    """:func:`json_line` of one ``decision`` record, written out for its fixed fields.

    Every cold decision writes one; spelled out, it takes 1.6 µs instead of 2.6. Times
    are written with three decimals (``1.500``): ``repr(round(x, 3))`` converted the
    float to text twice, half of the line's cost.

    Example:
        >>> decision_line(1.5, "INFO", "broker-1", "sha256:0f39ea04cf56", "orders",
        ...               "active", "jwks", 0.07, None)[:60]
        '{"time": 1.500, "level": "INFO", "logger": "oauthbearer.side'
        >>> json.loads(decision_line(1.5, "INFO", "broker-1", "sha256:0f39ea04cf56", "orders",
        ...                          "active", "jwks", 0.07, None)) == json.loads(json_line(
        ...     1.5, "INFO", "oauthbearer.sidecar.decision", "decision",
        ...     {"caller": "broker-1", "token": "sha256:0f39ea04cf56", "sub": "orders",
        ...      "result": "active", "source": "jwks", "latency_ms": 0.07}))
        True
    """
    line = (
        f'{{"time": {created:.3f}, "level": {encode_basestring(level)}, '
        f'"logger": "oauthbearer.sidecar.decision", "message": "decision", '
        f'"caller": {_json_value(caller)}, "token": {_json_value(token)}, '
        f'"sub": {_json_value(sub)}, "result": {encode_basestring(result)}, '
        f'"source": {encode_basestring(source)}, "latency_ms": {latency_ms:.3f}'
    )
    if reason is not None:
        line += f', "reason": {encode_basestring(reason)}'
    return line + "}"


def _only_root_sees_decisions(handler: _BatchedHandler) -> bool:
    # A decision record would reach ``handler`` and nothing else: no logger between the
    # decision logger and the root has a handler or stops propagation, and the root has
    # exactly this one. Checked per line (a few attribute reads): handlers come and go.
    logger: logging.Logger | None = decision_logger
    while logger is not None and logger is not logging.root:
        if logger.handlers or not logger.propagate:
            return False
        logger = logger.parent
    return logging.root.handlers == [handler]


def configure_logging(level: str, stream: TextIO | None = None) -> None:
    """Send every log line (ours and uvicorn's) to ``stream`` (stderr) as JSON."""
    global _installed  # the one process-wide log destination
    handler = _BatchedHandler(BatchedLines(stream if stream is not None else sys.stderr))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    _installed = handler
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # One line per decision is our access log; uvicorn's would repeat it without context.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    # httpx logs every request's whole URL at INFO: a JWKS or upstream URL's user:password
    # or access_token reached the log on every fetch (ours show them masked), and each
    # upstream call added a line the decision line already accounts for.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
