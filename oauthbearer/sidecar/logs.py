"""Structured JSON logs: one line per introspection decision, never a token or a secret.

A decision line carries the caller id, a short SHA-256 fingerprint of the token (enough to
correlate with the client side's logs, useless to replay), ``sub``, the result, the
deciding source (``cache``, ``jwks``, ``upstream``, ``none``), the latency and, for
inactive or failed results, a reason. ``sub`` is a principal name, not a credential.

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

import json
import logging
import sys
from typing import Any

__all__ = ["JsonFormatter", "configure_logging", "decision_logger"]

#: The logger every decision line goes to.
decision_logger = logging.getLogger("oauthbearer.sidecar.decision")


class JsonFormatter(logging.Formatter):
    """One JSON object per line; a ``decision`` dict on the record is merged in."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": round(record.created, 3),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        decision = getattr(record, "decision", None)
        if isinstance(decision, dict):
            line.update(decision)
        if record.exc_info and record.exc_info[0] is not None:
            # The exception type only: a traceback could quote locals such as a token.
            line["exception"] = record.exc_info[0].__name__
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging(level: str) -> None:
    """Send every log line (ours and uvicorn's) to stderr as JSON."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # One line per decision is our access log; uvicorn's would repeat it without context.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
