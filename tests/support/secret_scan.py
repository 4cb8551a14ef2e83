"""Secret scan: nothing the whole test suite logs, renders as metrics or reports as an error
may contain a test secret or a token. A pytest plugin (register in tests/conftest.py).

What is collected, for the whole session:

* every log record of every logger — ``logging.Logger.handle`` is wrapped, so a test that
  replaces the root handlers (``configure_logging`` does) or a logger that does not
  propagate cannot hide records; the root level is held at DEBUG so DEBUG reasons are
  produced and scanned too;
* every Prometheus text the sidecar and the client render (``Metrics.render`` and
  ``prometheus_client.generate_latest`` wrapped);
* every ``OAuthBearerError`` message, raised or not;
* every test report: failure text, captured stdout, stderr and log sections.

What is looked for: the fake secrets the suite uses (:data:`STATIC_SECRETS`, each checked
to still occur in the test sources so the list cannot silently go stale), the clients'
secrets and private keys of every ``Idp`` a fixture hands out, every JWT the test process
signs (``joserfc.jwt.encode`` wrapped: access tokens, client assertions — the whole token
and its signature), every access token the client half receives, and whatever a test adds
with :func:`register` (or the ``secret_registry`` fixture).

It cannot pass silently: at the end it checks that a canary record logged through the
pipeline was seen and that it knows secrets at all; any hit, or a failed self-check, turns
the session's exit status into a failure and prints where each hit was (never the hit).
"""

from __future__ import annotations

import functools
import logging
import os
import re
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

__all__ = ["STATIC_SECRETS", "SecretRegistry", "register", "registry"]

ROOT = Path(__file__).resolve().parents[2]
CANARY = "secret-scan-canary-7f3a9c"

#: Fake secrets the suite's own files use, as they appear in those files.
STATIC_SECRETS: tuple[str, ...] = (
    # tests/unit/sidecar/conftest.py
    "fake>>secret??~~",
    "ZmFrZS1zaWRlY2FyOmZha2UtdXBzdHJlYW0tc2VjcmV0",  # the upstream Basic credentials
    # tests/support/idp.py's registered clients
    "fake+basic/secret: one=1",
    "fake-post-secret",
    "fake-secret-jwt-secret-that-is-long-enough-for-hs256",
    "fake-opaque-secret",
    "fake-introspector-secret",
    # tests/unit/client/test_no_leaks.py
    "S3CRET-never-show-me",
    "TOKEN-never-show-me",
    "PASSWORD-never-show-me",
    # bench/harness.py and tests/robustness
    "fake-bench-caller-secret",
    "fake-greedy-secret",
    "fake-polite-secret",
)
_MIN_LENGTH = 12  # shorter values would match by coincidence


class SecretRegistry:
    """Secrets and tokens to look for, and the texts to look in. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.secrets: dict[str, str] = {}  # value → where it came from
        self.texts: list[tuple[str, str]] = []  # (where, text)
        self.records = 0
        self.canary_seen = False

    def register(self, value: object, origin: str) -> None:
        if not isinstance(value, str) or len(value) < _MIN_LENGTH:
            return
        with self._lock:
            self.secrets.setdefault(value, origin)

    def observe(self, where: str, text: str) -> None:
        if text:
            with self._lock:
                self.texts.append((where, text))

    def hits(self) -> list[tuple[str, str]]:
        """``(where, origin of the secret)`` for every text containing a known secret."""
        with self._lock:
            secrets = dict(self.secrets)
            texts = list(self.texts)
        if not secrets:
            return []
        pattern = re.compile("|".join(re.escape(s) for s in sorted(secrets, key=len, reverse=True)))
        found: list[tuple[str, str]] = []
        for where, text in texts:
            for match in pattern.finditer(text):
                found.append((where, secrets[match.group(0)]))
        return found


registry = SecretRegistry()


def register(value: str, origin: str = "registered by a test") -> None:
    """Add a secret or token to look for (e.g. a token a test fetched)."""
    registry.register(value, origin)


@pytest.fixture(scope="session")
def secret_registry() -> SecretRegistry:
    return registry


# --- collection ---------------------------------------------------------------------


class _Collector(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        pass  # records arrive through the Logger.handle wrapper below


def _text_of(record: logging.LogRecord) -> str:
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a bad format string must not break the scan
        message = f"{record.msg!r} % {record.args!r}"
    extra = {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS}
    return f"{message} {extra!r}" if extra else message


_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
}


def _wrap(owner: Any, name: str, after: Callable[[Any, tuple[Any, ...], Any], None]) -> None:
    original = getattr(owner, name)
    if getattr(original, "__secret_scan__", False):
        return

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        after(result, args, kwargs)
        return result

    wrapper.__secret_scan__ = True  # type: ignore[attr-defined]
    setattr(owner, name, wrapper)


#: kafka-python's own DEBUG loggers dump whole protocol frames, the SASL token included.
#: That is the library's behaviour, not ours, and the README tells users to keep these
#: loggers above DEBUG; every other logger, kafka-python's included, is scanned.
THIRD_PARTY_WIRE_LOGGERS = frozenset({"kafka.protocol.parser", "kafka.net.connection"})


def _install() -> None:
    original_handle = logging.Logger.handle
    if not getattr(original_handle, "__secret_scan__", False):

        def handle(self: logging.Logger, record: logging.LogRecord) -> Any:
            text = _text_of(record)
            registry.records += 1
            if CANARY in text:
                registry.canary_seen = True
            if record.name not in THIRD_PARTY_WIRE_LOGGERS:
                registry.observe(f"log {record.name}", text)
            return original_handle(self, record)

        handle.__secret_scan__ = True  # type: ignore[attr-defined]
        logging.Logger.handle = handle  # type: ignore[method-assign]

    import prometheus_client
    from joserfc import jwt

    from oauthbearer.client import token as client_token
    from oauthbearer.errors import OAuthBearerError
    from oauthbearer.sidecar.metrics import Metrics

    def rendered(result: Any, _args: tuple[Any, ...], _kwargs: Any) -> None:
        if isinstance(result, bytes):
            registry.observe("metrics", result.decode("utf-8", "replace"))

    _wrap(Metrics, "render", rendered)
    _wrap(prometheus_client, "generate_latest", rendered)

    def signed(result: Any, _args: tuple[Any, ...], _kwargs: Any) -> None:
        if isinstance(result, str):
            registry.register(result, "a JWT signed in the test process")
            registry.register(result.rsplit(".", 1)[-1], "a JWT's signature")

    _wrap(jwt, "encode", signed)

    def received(_result: Any, args: tuple[Any, ...], _kwargs: Any) -> None:
        token = args[0]
        registry.register(token.access_token, "an access token the client received")
        registry.register(token.refresh_token, "a refresh token the client received")

    _wrap(client_token.Token, "__post_init__", received)

    def created(_result: Any, args: tuple[Any, ...], _kwargs: Any) -> None:
        error = args[0]
        registry.observe(f"error {type(error).__name__}", str(error))

    _wrap(OAuthBearerError, "__init__", created)


def _register_idp(value: object, fixture: str) -> None:
    clients = getattr(value, "clients", None)
    if not isinstance(clients, dict):
        return
    for client in clients.values():
        registry.register(getattr(client, "client_secret", None), f"{fixture}: client secret")
        pem = getattr(client, "private_key_pem", None)
        if isinstance(pem, str):
            # The key's base64 body lines, so a partial dump is caught too.
            for line in pem.splitlines():
                if not line.startswith("-----"):
                    registry.register(line, f"{fixture}: private key")


# --- hooks --------------------------------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    _install()
    root = logging.getLogger()
    root.setLevel(logging.DEBUG)
    root.addHandler(_Collector())
    for secret in STATIC_SECRETS:
        registry.register(secret, "a fake secret of the suite")
    logging.getLogger("tests.secret_scan").debug("pipeline check %s", CANARY)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # A test may have raised the root level (configure_logging does): restore DEBUG so the
    # next test's DEBUG records are produced and scanned.
    logging.getLogger().setLevel(logging.DEBUG)


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest) -> Any:
    value = yield
    _register_idp(value, fixturedef.argname)
    for started in getattr(value, "started", ()) or ():  # idp_factory's servers
        _register_idp(started, fixturedef.argname)
    return value


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # Error messages as reported. Captured stdout is not scanned: a command asked to print
    # a token (``oauthbearer token --show-token``) does exactly that; logs are scanned at
    # the source above, whatever their handler.
    if report.failed:
        registry.observe(f"report {report.nodeid} ({report.when})", report.longreprtext)


def _self_check() -> list[str]:
    problems = []
    if not registry.canary_seen:
        problems.append("the canary log record never reached the scanner")
    if not registry.secrets:
        problems.append("no secrets known")
    sources = "\n".join(p.read_text(errors="replace") for p in _python_sources())
    stale = [s for s in STATIC_SECRETS if s not in sources]
    if stale:
        problems.append(f"{len(stale)} listed secrets no longer occur in the test sources")
    return problems


def _python_sources() -> Iterable[Path]:
    for folder in ("tests", "bench"):
        for directory, subdirectories, files in os.walk(ROOT / folder):
            subdirectories[:] = [
                d for d in subdirectories if d not in {"node_modules", "__pycache__"}
            ]
            for name in files:
                if name.endswith(".py") and name != "secret_scan.py":
                    yield Path(directory, name)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    hits = registry.hits()
    problems = _self_check()
    session.config.stash[_RESULT] = (hits, problems)
    if hits or problems:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


_RESULT = pytest.StashKey[tuple[list[tuple[str, str]], list[str]]]()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    hits, problems = config.stash.get(_RESULT, ([], ["the scan did not run"]))
    terminalreporter.section("secret scan")
    terminalreporter.write_line(
        f"{registry.records} log records, {len(registry.texts)} texts, "
        f"{len(registry.secrets)} secrets and tokens known"
    )
    for problem in problems:
        terminalreporter.write_line(f"SECRET SCAN SELF-CHECK FAILED: {problem}", red=True)
    for where, origin in _unique(hits):
        terminalreporter.write_line(f"SECRET LEAKED: {origin} found in {where}", red=True)
    if not hits and not problems:
        terminalreporter.write_line("no secret or token found in logs, metrics or errors")


def _unique(items: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return list(dict.fromkeys(items))
