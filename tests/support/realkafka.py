"""A real Apache Kafka broker (KRaft, single node) from a bundle, for tests (test infra).

The bundle is the folder ../shared/realkafka describes: ``kafka_2.13-4.0.0/`` (an Apache
Kafka download) and ``plugins/strimzi/``, ``plugins/jairs/`` (validator plugin jars). It is
found at ``$OAUTHBEARER_TEST_KAFKA_BUNDLE``, else at ``../shared/realkafka`` beside the
repository. A user points the variable at a folder holding an Apache Kafka 4.x download
(any ``kafka_*`` folder) and the plugin jars.

Each :class:`RealKafka` runs on free loopback ports with its own fresh log dir, and is
stopped by the PID it started. A restart keeps its ports and its log dir, so what was
written survives, as on a real cluster.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO

import pytest

from tests.support.ports import free_ports
from tests.support.processes import terminate

__all__ = [
    "JAAS_MODULE",
    "LISTENER",
    "SASL_BASE",
    "RealKafka",
    "bundle_path",
    "debug_log4j",
    "missing_bundle_reason",
    "strimzi_introspection",
]

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0
_READY = "Kafka Server started"


JAAS_MODULE = "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required"
LISTENER = "listener.name.sasl_plaintext"
SASL_BASE = {
    "sasl.enabled.mechanisms": "OAUTHBEARER",
    f"{LISTENER}.sasl.enabled.mechanisms": "OAUTHBEARER",
}


def bundle_path() -> Path | None:
    """The bundle folder, or None when there is none."""
    configured = os.environ.get("OAUTHBEARER_TEST_KAFKA_BUNDLE")
    path = Path(configured) if configured else ROOT.parent / "shared" / "realkafka"
    return path if _kafka_home(path) is not None else None


def missing_bundle_reason() -> str:
    configured = os.environ.get("OAUTHBEARER_TEST_KAFKA_BUNDLE")
    where = configured or str(ROOT.parent / "shared" / "realkafka")
    return (
        f"no Apache Kafka bundle at {where} (set OAUTHBEARER_TEST_KAFKA_BUNDLE to a folder "
        "holding a kafka_* download and plugins/strimzi, plugins/jairs jars)"
    )


def _kafka_home(bundle: Path) -> Path | None:
    homes = sorted(p for p in bundle.glob("kafka_*") if (p / "libs").is_dir())
    return homes[-1] if homes else None


def strimzi_introspection(
    sidecar_url: str, issuer: str, client_id: str, client_secret: str, **extra: str
) -> dict[str, str]:
    """server.properties lines for Strimzi's introspection validator → our sidecar.

    ``extra`` adds ``oauth.*`` options (e.g. ``oauth.groups.claim``).
    """
    options = {
        "oauth.introspection.endpoint.uri": sidecar_url,
        "oauth.client.id": client_id,
        "oauth.client.secret": client_secret,
        "oauth.valid.issuer.uri": issuer,
        "oauth.username.claim": "sub",
        **extra,
        # Without it the broker does not start ("No principal name in JWT claim: sub").
        "unsecuredLoginStringClaim_sub": "kafka-broker",
    }
    jaas = " ".join(f'{k}="{v}"' for k, v in options.items())
    return {
        **SASL_BASE,
        f"{LISTENER}.oauthbearer.sasl.server.callback.handler.class": (
            "io.strimzi.kafka.oauth.server.JaasServerOauthValidatorCallbackHandler"
        ),
        f"{LISTENER}.oauthbearer.sasl.jaas.config": f"{JAAS_MODULE} {jaas} ;",
        "principal.builder.class": "io.strimzi.kafka.oauth.server.OAuthKafkaPrincipalBuilder",
    }


def debug_log4j(path: Path, logger: str) -> Path:
    """A log4j2 configuration: INFO to stdout, and DEBUG for ``logger`` alone."""
    path.write_text(
        f"""Configuration:
  Appenders:
    Console:
      name: STDOUT
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: INFO
      AppenderRef:
        - ref: STDOUT
    Logger:
      - name: {logger}
        level: DEBUG
        additivity: false
        AppenderRef:
          - ref: STDOUT
"""
    )
    return path


class RealKafka:
    """One single-node KRaft broker; ``listener`` is its client listener's protocol.

    ``listener_name`` names that listener when it is not named after its protocol (a
    shipped configuration's ``CLIENT``); ``listener.name.<name>.*`` options then apply.
    """

    def __init__(
        self,
        bundle: Path,
        log_dir: Path,
        *,
        name: str = "kafka",
        plugin: str | None = None,
        listener: str = "PLAINTEXT",
        listener_name: str | None = None,
        properties: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
        jvm_flags: tuple[str, ...] = ("-Xmx512m",),
        log4j_config: Path | None = None,
    ) -> None:
        home = _kafka_home(bundle)
        assert home is not None, missing_bundle_reason()
        self.home = home
        classpath = [str(home / "libs" / "*")]
        if plugin is not None:
            classpath.append(str(bundle / "plugins" / plugin / "*"))
        self._classpath = ":".join(classpath)
        self.name = name
        self.port, self._controller, self._internal = free_ports(3)
        self._data = log_dir / f"{name}-data"
        self._config = log_dir / f"{name}.properties"
        self.log_path = log_dir / f"{name}.log"
        self._protocol = listener
        self._listener = listener_name or listener
        self._properties = dict(properties or {})
        self._env = {**os.environ, **(env or {})}
        self._jvm_flags = jvm_flags
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._formatted = False
        self._logs_dir = log_dir / f"{name}-logs"
        self._logs_dir.mkdir(parents=True, exist_ok=True)
        self._log4j = log4j_config or home / "config" / "log4j2.yaml"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _write_config(self) -> None:
        lines = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.bootstrap.servers": f"127.0.0.1:{self._controller}",
            "listeners": f"{self._listener}://127.0.0.1:{self.port},"
            f"CONTROLLER://127.0.0.1:{self._controller},INTERNAL://127.0.0.1:{self._internal}",
            "advertised.listeners": f"{self._listener}://127.0.0.1:{self.port},"
            f"INTERNAL://127.0.0.1:{self._internal}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT,"
            f"{self._listener}:{self._protocol}",
            "inter.broker.listener.name": "INTERNAL",
            "log.dirs": str(self._data),
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "num.partitions": "1",
            **self._properties,
        }
        self._config.write_text("".join(f"{k}={v}\n" for k, v in lines.items()))

    def _java(self, *args: str) -> list[str]:
        return ["java", *self._jvm_flags, "-cp", self._classpath, *args]

    def start(self) -> RealKafka:
        """Format (first start only, same classpath as the broker), start, wait for ready."""
        if not self._formatted:
            self._write_config()
            cluster_id = subprocess.run(
                self._java("kafka.tools.StorageTool", "random-uuid"),
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
            subprocess.run(
                self._java(
                    "kafka.tools.StorageTool",
                    "format",
                    "--standalone",
                    "-t",
                    cluster_id,
                    "-c",
                    str(self._config),
                ),
                check=True,
                capture_output=True,
            )
            self._formatted = True
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self._proc = subprocess.Popen(
            [
                *self._java(
                    f"-Dlog4j2.configurationFile={self._log4j}",
                    # The log4j files (server.log, ...) go beside the data, not into cwd.
                    f"-Dkafka.logs.dir={self._logs_dir}",
                    "kafka.Kafka",
                    str(self._config),
                ),
            ],
            cwd=self._logs_dir,
            env=self._env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            self._wait_ready(offset)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, offset: int) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self._proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log_tail()}")
            with self.log_path.open("rb") as log:
                log.seek(offset)
                if _READY.encode() in log.read():
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} not ready in {START_TIMEOUT_S} s")
            time.sleep(0.1)  # polling for start-up

    def stop(self) -> None:
        """SIGTERM the process this object started (a controlled shutdown), then SIGKILL."""
        proc, self._proc = self._proc, None
        terminate(proc, STOP_TIMEOUT_S, STOP_TIMEOUT_S)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, limit: int = 4000) -> str:
        return self.log_text()[-limit:]


@pytest.fixture(scope="session")
def kafka_bundle() -> Path:
    """The bundle. Without one the tier is skipped with the reason, except where
    ``OAUTHBEARER_TEST_REQUIRE_REALBROKER=1`` (``.ci/run``): there a missing bundle fails."""
    bundle = bundle_path()
    if bundle is None:
        if os.environ.get("OAUTHBEARER_TEST_REQUIRE_REALBROKER") == "1":
            pytest.fail(missing_bundle_reason())
        pytest.skip(missing_bundle_reason())
    return bundle


@pytest.fixture(scope="module")
def plain_kafka(
    kafka_bundle: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RealKafka]:
    """A PLAINTEXT broker without plugins (for the sidecar's own topics)."""
    broker = RealKafka(kafka_bundle, tmp_path_factory.mktemp("kafka"), name="kafka")
    broker.start()
    yield broker
    broker.stop()


if __name__ == "__main__":
    # `python -m tests.support.realkafka`: exit 1 with the reason when there is no bundle
    # (scripts/check uses it to say, in one line, that the realbroker tier will not run).
    import sys

    if bundle_path() is None:
        print(missing_bundle_reason())
        sys.exit(1)
    print(bundle_path())
