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
(issue 14). A decision is queued as its raw fields (``PendingDecision``) and
spelled out as JSON (:mod:`oauthbearer.sidecar.log_lines`) only when the turn's lines
are written: formatting it beside the request, between one RSA check and the next, cost
the cold path 12 % of its throughput, and all of a turn's lines formatted together cost a
fraction of that. Every other record is written at once, after the decisions queued
before it.

Example (outside an event loop a line is written at once):
    >>> import io
    >>> out = io.StringIO()
    >>> BatchedLines(out).write((1.5, "INFO", "broker-1", "sha256:0f39ea04cf56", "orders",
    ...                          "active", "jwks", 0.00007, None))
    >>> out.getvalue()[:51]
    '{"time": 1.500, "level": "INFO", "logger": "oauthbe'
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any, TextIO

from oauthbearer.sidecar.log_lines import JsonFormatter, PendingDecision, json_line, pending_line

__all__ = [
    "BatchedLines",
    "configure_logging",
    "decision_logger",
    "direct_lines",
    "emit_decision",
]

#: The logger every decision line goes to.
decision_logger = logging.getLogger("oauthbearer.sidecar.decision")


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
