"""Fixtures and helpers for the end-to-end tests (``pytest -m e2e``).

The path under test is the real one, on loopback, with every piece a real process or a
real server except the broker's validator plugin:

    confluent-kafka / aiokafka / kafka-python  + our token provider (OAUTH_LOGIN_* env)
        -> SASL/OAUTHBEARER front (tests/support/sasl_front.py: plays jairsjunior's or
           Strimzi's validator plugin inside a broker, asks OUR SIDECAR over HTTP)
        -> tansu (a Kafka-protocol broker, memory storage)
    our sidecar -> npm oidc-provider (JWKS for JWTs, RFC 7662 introspection for opaque)

Two kinds of sidecar:

* ``sidecar`` (session): ``python -m oauthbearer.cli serve`` as an operator runs it,
  decisions read from its JSON log, counters from its ``/metrics``;
* ``inprocess_sidecar`` (per test): ``create_app(settings, clock=OffsetClock())`` under a
  real uvicorn server in a thread, so a test can move the sidecar's clock past
  ``OAUTHBEARER_CACHE_TTL`` instead of sleeping.

``fronts`` holds one front per request shape for the session sidecar (its events are
shared: tests look only at events after a ``mark``); ``front_for`` builds a private one.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
import uvicorn
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from oauthbearer.client.confluent import reset_default_provider
from oauthbearer.client.provider import SHARED_CACHE
from oauthbearer.sidecar.app import INTROSPECT_MS_PATH, INTROSPECT_PATH, create_app
from oauthbearer.sidecar.cli import uvicorn_options
from oauthbearer.sidecar.logs import decision_logger
from oauthbearer.sidecar.settings import SidecarSettings
from tests.support.idp import JWT_RESOURCE, OPAQUE_RESOURCE, Idp
from tests.support.sasl_front import FrontEvent, OffsetClock, SaslFront, SaslFrontFactory
from tests.support.sidecar_process import SidecarProcess
from tests.support.tansu import TansuFactory

Shape = Literal["jairsjunior", "strimzi"]
Kind = Literal["jwt", "opaque"]
SHAPES: tuple[Shape, ...] = ("jairsjunior", "strimzi")

START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 10.0
TIMEOUT_S = 20.0  # one produce/flush or one consume, bounded

# The brokers' credentials at the sidecar (fake). jairsjunior sends its configured header
# verbatim (standard base64); Strimzi base64-encodes id:secret in the URL-safe alphabet
# with padding -- this secret makes that encoding contain '-', which standard base64 lacks.
JAIRSJUNIOR_CALLER = ("jairsjunior-broker", "fake-jairsjunior-caller-secret")
STRIMZI_CALLER = ("strimzi-broker", "fake>>secret??")
CALLERS_ENV = ",".join(f"{i}:{s}" for i, s in (JAIRSJUNIOR_CALLER, STRIMZI_CALLER))
JAIRSJUNIOR_AUTHORIZATION = (
    "Basic " + base64.b64encode(":".join(JAIRSJUNIOR_CALLER).encode()).decode()
)
CACHE_TTL_S = 60.0

_LOGIN_PREFIXES = ("OAUTH_LOGIN_", "OAUTH_AUTHORIZATION", "OAUTH_WITH_SSL", "OAUTHBEARER_LOGIN_")


# --- the sidecar, seen from outside ----------------------------------------------------
@dataclass
class SidecarHandle:
    """A running sidecar: where it listens, its decisions, its counters, maybe its clock."""

    base: str
    read_decisions: Callable[[], list[dict[str, Any]]]
    clock: OffsetClock | None = None

    @property
    def url(self) -> str:
        return self.base + INTROSPECT_PATH

    @property
    def ms_url(self) -> str:
        return self.base + INTROSPECT_MS_PATH

    def decisions(self, since: int = 0) -> list[dict[str, Any]]:
        return self.read_decisions()[since:]

    def mark(self) -> int:
        """Index of the next decision: ``decisions(since=mark)`` is what happened after."""
        return len(self.read_decisions())

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """Every sample of ``/metrics`` as (sample name, sorted labels) -> value."""
        text = httpx.get(self.base + "/metrics", timeout=5).text
        samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return samples

    def counters(self) -> SidecarCounters:
        m = self.metrics()
        requests: Counter[tuple[str, str]] = Counter()
        refreshes: Counter[str] = Counter()
        for (name, labels), value in m.items():
            lab = dict(labels)
            if name == "oauthbearer_sidecar_requests_total":
                requests[(lab["result"], lab["source"])] = int(value)
            elif name == "oauthbearer_sidecar_jwks_refreshes_total":
                refreshes[lab["result"]] = int(value)
        upstream = int(m[("oauthbearer_sidecar_upstream_latency_seconds_count", ())])
        return SidecarCounters(requests, upstream, refreshes)

    def wait_decisions(self, since: int, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Decisions logged after ``since``, once there are ``count`` (the log may lag)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.decisions(since)
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.05)  # polling a log file being written, bounded


@dataclass(frozen=True)
class SidecarCounters:
    """Counters from ``/metrics``; subtract two snapshots to see what a step caused."""

    requests: Counter[tuple[str, str]]  # (result, source) -> count
    upstream_calls: int  # upstream introspection calls made, failures included
    jwks_refreshes: Counter[str] = field(default_factory=Counter)  # ok/error -> count

    def __sub__(self, before: SidecarCounters) -> SidecarCounters:
        return SidecarCounters(
            self.requests - before.requests,
            self.upstream_calls - before.upstream_calls,
            self.jwks_refreshes - before.jwks_refreshes,
        )

    def by_source(self, source: str) -> int:
        return sum(n for (_result, src), n in self.requests.items() if src == source)


def sidecar_env(idp: Idp, **overrides: str) -> dict[str, str]:
    """The sidecar's environment for ``idp``: JWKS for JWTs, upstream for opaque tokens."""
    return {
        **idp.introspect_env(),
        "OAUTHBEARER_JWKS_URL": idp.jwks_url,
        "OAUTHBEARER_ISSUER": idp.issuer,
        "OAUTHBEARER_AUDIENCE": JWT_RESOURCE,
        "OAUTHBEARER_CALLERS": CALLERS_ENV,
        "OAUTHBEARER_CACHE_TTL": f"{CACHE_TTL_S:g}",
        "OAUTHBEARER_UPSTREAM_TIMEOUT": "2",
        # Every decision on its own line, cache hits included: the tests read them one
        # by one (the default sums hits per interval; tests/unit covers that).
        "OAUTHBEARER_DECISION_LOG_HITS": "each",
        **overrides,
    }


def _wait_ready(base: str, alive: Callable[[], bool], what: Callable[[], str]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if not alive() or time.monotonic() > deadline:
            raise RuntimeError(f"sidecar at {base} not ready within {START_TIMEOUT_S} s: {what()}")
        time.sleep(0.05)  # polling start-up, bounded


def _log_decisions(path: Path) -> list[dict[str, Any]]:
    found = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            if record.get("message") == "decision":
                found.append(record)
    return found


@pytest.fixture(scope="session")
def sidecar(idp: Idp, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SidecarHandle]:
    """``oauthbearer serve`` (a real uvicorn process) in front of the session IdP."""
    sidecar = SidecarProcess("sidecar", sidecar_env(idp), tmp_path_factory.mktemp("sidecar"))
    try:
        sidecar.start().wait_ready(START_TIMEOUT_S)
        yield SidecarHandle(sidecar.url, lambda: _log_decisions(sidecar.log_path))
    finally:
        sidecar.close()


class _InProcess:
    def __init__(self, server: uvicorn.Server, thread: threading.Thread) -> None:
        self.server, self.thread = server, thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(STOP_TIMEOUT_S)
        if self.thread.is_alive():
            self.server.force_exit = True
            self.thread.join(STOP_TIMEOUT_S)


InprocessSidecarFactory = Callable[..., SidecarHandle]


def serve_inprocess(app: Any) -> tuple[_InProcess, str]:
    """``app`` under a real uvicorn server on a loopback socket, in a thread; ready."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        loop="asyncio",
        lifespan="on",
        log_config=None,
        log_level="warning",
        timeout_graceful_shutdown=2,
        **uvicorn_options(),  # the server settings `oauthbearer serve` runs with
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="sidecar", daemon=True
    )
    handle = _InProcess(server, thread)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, thread.is_alive, lambda: "uvicorn thread ended")
    except BaseException:
        handle.stop()
        raise
    return handle, base


class DecisionRecorder(logging.Handler):
    """Collects the decision log's records while attached (``attach``/``detach``)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.decisions: list[dict[str, Any]] = []
        self._previous_level = logging.NOTSET

    def emit(self, record: logging.LogRecord) -> None:
        decision = getattr(record, "decision", None)
        if isinstance(decision, dict):
            self.decisions.append(dict(decision))

    def attach(self) -> None:
        self._previous_level = decision_logger.level
        decision_logger.addHandler(self)
        decision_logger.setLevel(logging.INFO)

    def detach(self) -> None:
        decision_logger.removeHandler(self)
        decision_logger.setLevel(self._previous_level)


@pytest.fixture
def inprocess_sidecar() -> Iterator[InprocessSidecarFactory]:
    """``inprocess_sidecar(idp, **env) -> SidecarHandle`` with ``.clock`` to advance.

    The app runs under a real uvicorn server on a loopback socket in a thread; its clock
    is an :class:`OffsetClock`, so cache TTLs pass when the test says so.
    """
    started: list[_InProcess] = []
    recorder = DecisionRecorder()
    recorder.attach()

    def start(idp: Idp, **overrides: str) -> SidecarHandle:
        clock = OffsetClock()
        settings = SidecarSettings.from_env(sidecar_env(idp, **overrides))
        handle, base = serve_inprocess(create_app(settings, clock=clock))
        started.append(handle)
        # One recorder per test: tests starting two in-process sidecars use marks.
        return SidecarHandle(base, lambda: list(recorder.decisions), clock=clock)

    try:
        yield start
    finally:
        for handle in started:
            handle.stop()
        recorder.detach()


# --- fronts ----------------------------------------------------------------------------
def front_options(shape: Shape, idp: Idp) -> dict[str, Any]:
    """How each peer's plugin is configured to call our sidecar."""
    if shape == "jairsjunior":
        return {"shape": shape, "authorization": JAIRSJUNIOR_AUTHORIZATION}
    return {
        "shape": shape,
        "client_id": STRIMZI_CALLER[0],
        "client_secret": STRIMZI_CALLER[1],
        "valid_issuer": idp.issuer,  # Strimzi's default check: the sidecar must pass iss
    }


@pytest.fixture(scope="session")
def fronts(
    idp: Idp, sidecar: SidecarHandle, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[Shape, SaslFront]]:
    """One front (with its own tansu) per request shape, asking the session sidecar."""
    tansus = TansuFactory(tmp_path_factory.mktemp("tansu"))
    factory = SaslFrontFactory(tansus)
    try:
        yield {shape: factory(sidecar.url, **front_options(shape, idp)) for shape in SHAPES}
    finally:
        try:
            factory.stop_all()
        finally:
            tansus.stop_all()


FrontFor = Callable[..., SaslFront]


@pytest.fixture
def front_for(sasl_front_factory: SaslFrontFactory) -> FrontFor:
    """``front_for(sidecar, shape, idp, url=None, **options)``: a private front + tansu."""

    def make(
        sidecar: SidecarHandle, shape: Shape, idp: Idp, url: str | None = None, **options: Any
    ) -> SaslFront:
        return sasl_front_factory(url or sidecar.url, **{**front_options(shape, idp), **options})

    return make


def events_since(front: SaslFront, mark: int, kind: str | None = None) -> list[FrontEvent]:
    events = front.events[mark:]  # the front only appends; a slice is a snapshot
    return [e for e in events if kind is None or e.kind == kind]


#: Events that end an authentication attempt on a connection.
_ATTEMPT_ENDS = frozenset({"auth_success", "auth_failure", "disconnect", "front_error"})


def front_mark(front: SaslFront, settle_s: float = 2.0) -> int:
    """The front's next event index, once no authentication is in flight (bounded).

    A test marks the front and snapshots the sidecar's counters, then compares what each
    saw. An authentication of the previous test's clients still in flight at that moment
    (librdkafka finishing a connection while its client closes) was counted by the
    sidecar before the snapshot and by the front after the mark: one CI run saw 6
    introspections at the front and 5 at the sidecar.
    """
    deadline = time.monotonic() + settle_s
    while True:
        events = front.events[:]  # the front only appends; a slice is a snapshot
        open_attempts: set[int] = set()
        for event in events:
            if event.kind == "auth_attempt":
                open_attempts.add(event.conn)
            elif event.kind in _ATTEMPT_ENDS:
                open_attempts.discard(event.conn)
        if not open_attempts or time.monotonic() > deadline:
            return len(events)
        time.sleep(0.02)  # polling for an authentication to finish, not for an expiry


# --- the client environment ------------------------------------------------------------
@pytest.fixture(autouse=True)
def _fresh_token_provider(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No login variable from the developer's shell; no token or provider left over."""
    for name in list(os.environ):
        if name.startswith(_LOGIN_PREFIXES):
            monkeypatch.delenv(name)
    reset_default_provider()
    SHARED_CACHE.clear()
    try:
        yield
    finally:
        reset_default_provider()
        SHARED_CACHE.clear()


def login_env(idp: Idp, kind: Kind) -> dict[str, str]:
    """jairsjunior's OAUTH_LOGIN_* block: kafka-basic gets JWTs, kafka-opaque opaque tokens."""
    if kind == "jwt":
        return idp.env_for("basic")
    return {**idp.env_for("opaque"), "OAUTHBEARER_LOGIN_RESOURCE": OPAQUE_RESOURCE}


def principal_of(kind: Kind) -> str:
    return "kafka-basic" if kind == "jwt" else "kafka-opaque"


@pytest.fixture
def use_login_env(monkeypatch: pytest.MonkeyPatch) -> Callable[[Idp, Kind], None]:
    """Configure the process the way a user does: environment variables only."""

    def use(idp: Idp, kind: Kind) -> None:
        for name, value in login_env(idp, kind).items():
            monkeypatch.setenv(name, value)
        reset_default_provider()

    return use


# --- Kafka clients -----------------------------------------------------------------------
def kafka_conf(front: SaslFront, oauth_cb: Callable[..., Any], **extra: Any) -> dict[str, Any]:
    return {
        "bootstrap.servers": front.bootstrap,
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanisms": "OAUTHBEARER",
        "oauth_cb": oauth_cb,
        **extra,
    }


def topic_name(prefix: str = "e2e") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@dataclass
class Deliveries:
    ok: list[int] = field(default_factory=list)  # offsets
    errors: list[KafkaError] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, err: KafkaError | None, msg: Any) -> None:
        with self.lock:
            if err is None:
                self.ok.append(msg.offset())
            else:
                self.errors.append(err)


def produce(
    conf: dict[str, Any], topic: str, count: int, *, prefix: str = "m", timeout: float = TIMEOUT_S
) -> Deliveries:
    """Produce ``count`` messages ``{prefix}{i}`` and flush (bounded)."""
    result = Deliveries()
    producer = Producer({"message.timeout.ms": 10000, **conf})
    for i in range(count):
        producer.produce(topic, value=f"{prefix}{i}".encode(), on_delivery=result)
    remaining = producer.flush(timeout)
    assert remaining == 0, f"{remaining} messages still queued after {timeout} s"
    return result


def consume(
    conf: dict[str, Any],
    topic: str,
    count: int,
    *,
    settle: float = 0.0,
    timeout: float = TIMEOUT_S,
) -> list[bytes]:
    """Read ``count`` messages from every partition with ``assign()`` (no group join).

    ``settle`` seconds more are spent polling after that, to catch messages that must
    not be there. (The watermarks cannot be used to count: tansu 0.6's high watermark is
    the number of record batches, not of records.)
    """
    consumer = Consumer({"group.id": "e2e", "enable.auto.commit": False, **conf})
    try:
        metadata = consumer.list_topics(topic, timeout=timeout).topics[topic]
        if metadata.error is not None:
            return []  # the topic does not exist: nothing was ever produced to it
        partitions = list(metadata.partitions)
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        values: list[bytes] = []
        deadline = time.monotonic() + timeout
        while len(values) < count and time.monotonic() < deadline:
            values.extend(_poll_value(consumer))
        deadline = time.monotonic() + settle
        while time.monotonic() < deadline:
            values.extend(_poll_value(consumer))
        return values
    finally:
        consumer.close()


def _poll_value(consumer: Consumer) -> list[bytes]:
    msg = consumer.poll(0.1)
    value = None if msg is None or msg.error() else msg.value()
    return [] if value is None else [value]


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.05)
