"""Two replicas behind a Service, one restarted while a client keeps asking: nothing fails.

Kubernetes is played by what it does for a Deployment with a readiness probe and a preStop
pause (deploy/strimzi/sidecar.yaml): the Service sends requests only to replicas whose
``/readyz`` says ready (polled every 100 ms, as endpoints follow readiness); a replica to be
restarted leaves the endpoints first, then gets SIGTERM after the pause, and rejoins only
once its new process says ready. Real parts: two ``oauthbearer serve`` processes, the
real IdP (opaque tokens introspected upstream, JWTs against its JWKS).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.idp import JWT_RESOURCE, Idp
from tests.support.sidecar_process import SidecarProcess

pytestmark = pytest.mark.integration

CALLER = ("broker", "fake-rolling-secret")
PRE_STOP_S = 0.5


class Service:
    """Round robin over the replicas that are ready, as kube-proxy over endpoints."""

    def __init__(self, replicas: list[SidecarProcess]) -> None:
        self.replicas = replicas
        self.ready = {r.name: False for r in replicas}
        self.leaving: set[str] = set()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._turn = itertools.count()
        self._poller = threading.Thread(target=self._poll, daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        with httpx.Client(timeout=1) as probe:
            while not self._stop.is_set():
                for replica in self.replicas:
                    try:
                        ok = probe.get(f"{replica.url}/readyz").status_code == 200
                    except httpx.TransportError:
                        ok = False
                    with self._lock:
                        self.ready[replica.name] = ok and replica.name not in self.leaving
                self._stop.wait(0.1)

    def pick(self) -> SidecarProcess:
        with self._lock:
            ready = [r for r in self.replicas if self.ready[r.name]]
        assert ready, "no replica ready"
        return ready[next(self._turn) % len(ready)]

    def remove(self, replica: SidecarProcess) -> None:
        with self._lock:
            self.leaving.add(replica.name)
            self.ready[replica.name] = False

    def readmit(self, replica: SidecarProcess) -> None:
        with self._lock:
            self.leaving.discard(replica.name)

    def close(self) -> None:
        self._stop.set()
        self._poller.join(5)


@pytest.fixture
def replicas(idp: Idp, tmp_path: Path) -> Iterator[list[SidecarProcess]]:
    env = {
        **idp.introspect_env(),
        "OAUTHBEARER_JWKS_URL": idp.jwks_url,
        "OAUTHBEARER_ISSUER": idp.issuer,
        "OAUTHBEARER_AUDIENCE": JWT_RESOURCE,
        "OAUTHBEARER_CALLERS": ":".join(CALLER),
        "OAUTHBEARER_SHUTDOWN_TIMEOUT": "10",
    }
    started = [SidecarProcess(f"replica-{i}", env, tmp_path).start() for i in (1, 2)]
    try:
        for replica in started:
            replica.wait_ready()
        yield started
    finally:
        for replica in started:
            replica.close()


def test_a_rolling_restart_fails_no_request(idp: Idp, replicas: list[SidecarProcess]) -> None:
    tokens = [idp.fetch_token("opaque")["access_token"], idp.fetch_token("basic")["access_token"]]
    service = Service(replicas)
    failures: list[str] = []
    answered: dict[str, int] = {r.name: 0 for r in replicas}
    stop = threading.Event()

    def client() -> None:
        with httpx.Client(timeout=10) as http:
            for i in itertools.count():
                if stop.is_set():
                    return
                replica = service.pick()
                try:
                    response = http.post(
                        f"{replica.url}/oauth2/introspect",
                        data={"token": tokens[i % 2]},
                        auth=CALLER,
                    )
                except httpx.TransportError as exc:
                    failures.append(f"{replica.name}: {type(exc).__name__}")
                    continue
                if response.status_code != 200 or response.json().get("active") is not True:
                    failures.append(f"{replica.name}: {response.status_code} {response.text}")
                answered[replica.name] += 1

    try:
        deadline = time.monotonic() + 10
        while not all(service.ready.values()):
            assert time.monotonic() < deadline, service.ready
            time.sleep(0.05)  # polling the service's view of the endpoints
        workers = [threading.Thread(target=client) for _ in range(4)]
        for worker in workers:
            worker.start()
        first, _second = replicas
        time.sleep(0.5)  # traffic on both before the restart (a load, not an expiry)
        before = dict(answered)

        service.remove(first)  # out of the endpoints ...
        time.sleep(PRE_STOP_S)  # ... while preStop pauses ...
        first.stop()  # ... then SIGTERM: in-flight requests finish
        first.start()
        first.wait_ready()
        service.readmit(first)
        deadline = time.monotonic() + 10
        while answered[first.name] <= before[first.name]:
            assert time.monotonic() < deadline, "the restarted replica got no traffic back"
            time.sleep(0.05)
        stop.set()
        for worker in workers:
            worker.join(15)
    finally:
        stop.set()
        service.close()

    assert failures == []
    assert all(count > 0 for count in answered.values()), answered
    print(f"\nanswered without a failure across the restart: {answered}")


UPSTREAM_CALLS = "oauthbearer_sidecar_upstream_latency_seconds_count"


def test_each_replica_caches_on_its_own(idp: Idp, replicas: list[SidecarProcess]) -> None:
    """Behind a Service the authorization server sees one introspection per token per
    replica (then each answers from its own cache), not one per token."""
    token = idp.fetch_token("opaque")["access_token"]
    # /readyz probes the upstream while it is unknown: count only what this token caused.
    before = [replica.metric(UPSTREAM_CALLS) for replica in replicas]
    for _ in range(5):
        for replica in replicas:
            assert replica.introspect(token, CALLER)["active"] is True
    after = [replica.metric(UPSTREAM_CALLS) for replica in replicas]
    assert [a - b for a, b in zip(after, before, strict=True)] == [1.0, 1.0]
