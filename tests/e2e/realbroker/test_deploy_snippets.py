"""The broker configurations deploy/ ships, run as shipped on a real Apache Kafka 4.0.

Each file in ``deploy/broker/`` (and the compose file's jairsjunior broker environment) is
read as Kafka reads it. Only what a user must replace is replaced: host names and ports
(``sidecar:8080``, ``127.0.0.1:8080``), the issuer, the secret file's path; the cluster
layout lines (node id, controller quorum, ports, log dir) come from the test broker.
Everything OAuth in them is used verbatim: the broker must start with it, a token from
``oauth_cb`` must produce, and a forged one must not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from oauthbearer import oauth_cb
from oauthbearer.sidecar.app import create_app
from oauthbearer.sidecar.settings import SidecarSettings
from tests.e2e.conftest import (
    DecisionRecorder,
    Kind,
    SidecarHandle,
    produce,
    serve_inprocess,
    sidecar_env,
)
from tests.e2e.realbroker.conftest import broker_conf, forged, refusal
from tests.support import strict_yaml
from tests.support.idp import Idp
from tests.support.java_properties import read_env_file, read_properties
from tests.support.realkafka import RealKafka

pytestmark = [pytest.mark.e2e, pytest.mark.realbroker]

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
BROKER = DEPLOY / "broker"
#: The caller the shipped files present to the sidecar (fake, as everything in deploy/).
SHIPPED_CALLER = "kafka-broker:fake-caller-secret"
#: Lines that describe a cluster's layout, not OAuth: the test broker sets its own.
LAYOUT = frozenset(
    {
        "process.roles",
        "node.id",
        "controller.quorum.bootstrap.servers",
        "controller.listener.names",
        "listeners",
        "advertised.listeners",
        "listener.security.protocol.map",
        "inter.broker.listener.name",
        "log.dirs",
    }
)
#: Where the shipped files expect the sidecar and the issuer, as a user would replace them.
SIDECAR_ADDRESSES = ("http://sidecar:8080", "http://127.0.0.1:8080")
ISSUERS = ("http://keycloak:8080/realms/kafka", "https://idp.example.com/realms/kafka")
SECRET_FILE = "/etc/kafka/secrets/sidecar-caller.properties"


@pytest.fixture(scope="module")
def deploy_sidecar(idp: Idp) -> Iterator[SidecarHandle]:
    """The sidecar as deploy/ configures it: the shipped caller, in front of the IdP."""
    recorder = DecisionRecorder()
    recorder.attach()
    settings = SidecarSettings.from_env(sidecar_env(idp, OAUTHBEARER_CALLERS=SHIPPED_CALLER))
    server, base = serve_inprocess(create_app(settings))
    try:
        yield SidecarHandle(base, lambda: list(recorder.decisions))
    finally:
        server.stop()
        recorder.detach()


def client_listener(properties: Mapping[str, str]) -> tuple[str, str]:
    """The (name, protocol) of the file's SASL listener, from its protocol map."""
    for entry in properties["listener.security.protocol.map"].split(","):
        name, _, protocol = entry.partition(":")
        if protocol.startswith("SASL_"):
            return name, protocol
    raise AssertionError("no SASL listener in listener.security.protocol.map")


def localised(value: str, sidecar_base: str, issuer: str, secret_file: Path) -> str:
    for address in SIDECAR_ADDRESSES:
        value = value.replace(address, sidecar_base)
    for shipped in ISSUERS:
        value = value.replace(shipped, issuer)
    return value.replace(SECRET_FILE, str(secret_file))


def shipped_broker(
    bundle: Path,
    work: Path,
    filename: str,
    *,
    plugin: str,
    sidecar: SidecarHandle,
    issuer: str,
    env: Mapping[str, str] | None = None,
    jvm_flags: tuple[str, ...] = (),
) -> RealKafka:
    properties = read_properties(BROKER / filename)
    name, protocol = client_listener(properties)
    secret_file = work / "sidecar-caller.properties"
    secret_file.write_text("secret=" + SHIPPED_CALLER.partition(":")[2] + "\n")
    oauth = {
        key: localised(value, sidecar.base, issuer, secret_file)
        for key, value in properties.items()
        if key not in LAYOUT
    }
    return RealKafka(
        bundle,
        work,
        name=filename.removesuffix(".properties"),
        plugin=plugin,
        listener=protocol,
        listener_name=name,
        properties=oauth,
        env=env,
        jvm_flags=("-Xmx512m", *jvm_flags),
    )


def jairsjunior_env(shipped: Mapping[str, str], sidecar: SidecarHandle) -> dict[str, str]:
    """The handler's OAUTH_* variables as shipped, pointed at this sidecar."""
    host_port = sidecar.base.removeprefix("http://")
    env = {k: v for k, v in shipped.items() if k.startswith("OAUTH_")}
    env["OAUTH_INTROSPECT_SERVER"] = host_port
    return env


def compose_broker_env() -> dict[str, str]:
    compose = strict_yaml.load((DEPLOY / "compose.yaml").read_text())
    env: dict[str, str] = compose["services"]["kafka-jairsjunior"]["environment"]
    # The compose file's JAAS file is the one shipped in deploy/broker/.
    assert env["KAFKA_OPTS"] == "-Djava.security.auth.login.config=/etc/kafka/jairsjunior-jaas.conf"
    return env


JAAS_FILE_FLAG = f"-Djava.security.auth.login.config={BROKER / 'jairsjunior-jaas.conf'}"

#: The plugin each shipped file is for, and the broker environment it ships with (if any).
EnvOf = Callable[[SidecarHandle], Mapping[str, str]]
CASES: dict[str, tuple[str, EnvOf | None]] = {
    "compose-strimzi-server.properties": ("strimzi", None),
    "strimzi-introspection.properties": ("strimzi", None),
    "compose-jairsjunior-server.properties": (
        "jairs",
        lambda sidecar: jairsjunior_env(compose_broker_env(), sidecar),
    ),
    "jairsjunior-introspection.properties": (
        "jairs",
        lambda sidecar: jairsjunior_env(read_env_file(BROKER / "jairsjunior.env"), sidecar),
    ),
}


def test_every_shipped_broker_configuration_is_run_here() -> None:
    assert sorted(CASES) == sorted(p.name for p in BROKER.glob("*.properties"))


@pytest.mark.parametrize("filename", sorted(CASES))
def test_shipped_broker_configuration_starts_and_authenticates_through_the_sidecar(
    filename: str,
    kafka_bundle: Path,
    deploy_sidecar: SidecarHandle,
    idp: Idp,
    use_login_env: Callable[[Idp, Kind], None],
    tmp_path: Path,
) -> None:
    plugin, env_of = CASES[filename]
    broker = shipped_broker(
        kafka_bundle,
        tmp_path,
        filename,
        plugin=plugin,
        sidecar=deploy_sidecar,
        issuer=idp.issuer,
        env=env_of(deploy_sidecar) if env_of is not None else None,
        # jairsjunior's handler reads the JAAS file the compose file and snippet ship.
        jvm_flags=(JAAS_FILE_FLAG,) if plugin == "jairs" else (),
    )
    broker.start()  # fails with the broker's own words if the file stops it
    try:
        use_login_env(idp, "jwt")
        mark = deploy_sidecar.mark()
        delivered = produce(broker_conf(broker, oauth_cb), "deploy-snippet", 3)
        assert len(delivered.ok) == 3, delivered.errors
        decisions = deploy_sidecar.decisions(mark)
        assert any(d["result"] == "active" and d["caller"] == "kafka-broker" for d in decisions)

        token = oauth_cb(None)[0]
        _errors, refused = refusal(broker, forged(token))
        assert refused == 0
    finally:
        broker.stop()
