"""deploy/ is checked offline: no Docker engine or cluster runs where this is built.

The compose file is validated against the compose-spec schema vendored by check-jsonschema,
the Kubernetes manifests against the schemas bundled with kubernetes-validate. Each
validator is also shown a broken document, so these tests can fail.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest

from tests.support import strict_yaml

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
K8S_VERSION = "1.33.0"


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = strict_yaml.load((DEPLOY / "compose.yaml").read_text())
    return loaded


def _compose_schema() -> dict[str, Any]:
    path = resources.files("check_jsonschema") / "builtin_schemas" / "vendor" / "compose-spec.json"
    schema: dict[str, Any] = json.loads(path.read_text())
    return schema


def _k8s_documents() -> list[tuple[str, dict[str, Any]]]:
    docs: list[tuple[str, dict[str, Any]]] = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        docs.extend((path.name, doc) for doc in strict_yaml.load_all(path.read_text()) if doc)
    return docs


def test_compose_file_matches_the_compose_spec() -> None:
    jsonschema.validate(_compose(), _compose_schema())


def test_compose_schema_check_can_fail() -> None:
    broken = _compose()
    broken["services"]["sidecar"]["dependson"] = ["keycloak"]  # a typo of depends_on
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, _compose_schema())


def test_compose_wires_the_sidecar_between_keycloak_and_kafka() -> None:
    services = _compose()["services"]
    assert services["sidecar"]["depends_on"]["keycloak"]["condition"] == "service_healthy"
    assert services["kafka"]["depends_on"]["sidecar"]["condition"] == "service_healthy"
    assert services["producer"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert "healthcheck" in services["keycloak"]
    assert "healthcheck" in services["sidecar"]
    assert services["kafka-jairsjunior"]["profiles"] == ["jairsjunior"]
    jj_env = services["kafka-jairsjunior"]["environment"]
    assert jj_env["OAUTH_INTROSPECT_ENDPOINT"] == "/oauth2/introspect/jairsjunior-ms"


def test_every_file_the_compose_file_mounts_or_builds_exists() -> None:
    for name, service in _compose()["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./jairsjunior/"):
                continue  # the user's own build of jairsjunior's jar, documented as such
            assert (DEPLOY / source).exists(), f"{name} mounts missing {source}"
        build = service.get("build")
        if build:
            assert (DEPLOY / build["context"] / build["dockerfile"]).is_file(), name


def test_strimzi_broker_config_points_at_the_sidecar_and_reauthenticates() -> None:
    text = (DEPLOY / "broker" / "compose-strimzi-server.properties").read_text()
    assert 'oauth.introspection.endpoint.uri="http://sidecar:8080/oauth2/introspect"' in text
    assert "JaasServerOauthValidatorCallbackHandler" in text
    assert re.search(r"^connections\.max\.reauth\.ms=[1-9]\d*$", text, re.MULTILINE)
    snippet = (DEPLOY / "broker" / "strimzi-introspection.properties").read_text()
    assert 'oauth.introspection.endpoint.uri="http://127.0.0.1:8080/oauth2/introspect"' in snippet
    assert re.search(r"^connections\.max\.reauth\.ms=[1-9]\d*$", snippet, re.MULTILINE)


def test_jairsjunior_snippets_use_the_milliseconds_path_and_reauthenticate() -> None:
    env = (DEPLOY / "broker" / "jairsjunior.env").read_text()
    assert "OAUTH_INTROSPECT_ENDPOINT=/oauth2/introspect/jairsjunior-ms" in env
    props = (DEPLOY / "broker" / "jairsjunior-introspection.properties").read_text()
    assert "OauthAuthenticateValidatorCallbackHandler" in props
    assert re.search(r"^connections\.max\.reauth\.ms=[1-9]\d*$", props, re.MULTILINE)


@pytest.mark.parametrize(
    ("filename", "doc"), _k8s_documents(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_kubernetes_manifest_is_valid(filename: str, doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_kubernetes_validation_can_fail() -> None:
    doc = next(d for name, d in _k8s_documents() if d["kind"] == "Deployment")
    broken = json.loads(json.dumps(doc))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGett"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def _containers_named(name: str) -> list[dict[str, Any]]:
    found = []
    for _, doc in _k8s_documents():
        spec = doc.get("spec", {}).get("template", {}).get("spec", {})
        for container in spec.get("containers", []) + spec.get("initContainers", []):
            if container["name"] == name:
                found.append(container)
    return found


def test_sidecar_containers_are_probed_non_root_and_take_secrets_from_secrets() -> None:
    containers = _containers_named("oauthbearer")
    assert len(containers) == 2  # in the broker pod, and standalone
    for container in containers:
        assert _probed(container["readinessProbe"]) == "readyz"
        assert _probed(container["livenessProbe"]) == "healthz"
        assert container["securityContext"]["runAsUser"] >= 1000
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert "requests" in container["resources"]
        env = {e["name"]: e for e in container["env"]}
        assert "secretKeyRef" in env["OAUTH_INTROSPECT_AUTHORIZATION"]["valueFrom"]
        assert "OAUTHBEARER_CALLERS" not in env  # callers come from the mounted Secret file
        assert env["OAUTHBEARER_CALLERS_FILE"]["value"].startswith("/var/run/")


def _probed(probe: dict[str, Any]) -> str:
    """What a probe asks: ``healthz`` or ``readyz``, by HTTP or by ``oauthbearer probe``."""
    if "httpGet" in probe:
        path: str = probe["httpGet"]["path"]
        return path.removeprefix("/")
    command = probe["exec"]["command"]
    assert command[:2] == ["oauthbearer", "probe"], command
    check: str = command[2]
    return check


def test_in_pod_sidecar_listens_on_loopback_only_and_is_probed_from_inside() -> None:
    (in_pod,) = [c for c in _containers_named("oauthbearer") if c.get("restartPolicy")]
    env = {e["name"]: e.get("value") for e in in_pod["env"]}
    assert env["OAUTHBEARER_LISTEN"] == "127.0.0.1:8080"
    # The kubelet's httpGet goes to the pod's IP (or, with a host, to the node's own
    # loopback): neither reaches a sidecar on the pod's loopback.
    for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert "httpGet" not in in_pod[kind], kind
        assert _probed(in_pod[kind]) in ("healthz", "readyz")


def test_the_probe_command_the_manifests_run_exists() -> None:
    from oauthbearer.sidecar.probe_command import CHECKS

    for container in _containers_named("oauthbearer"):
        for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
            if kind in container and "exec" in container[kind]:
                assert _probed(container[kind]) in CHECKS
    text = (DEPLOY / "Dockerfile").read_text()
    assert 'CMD ["oauthbearer", "probe", "healthz"]' in text
    assert _compose()["services"]["sidecar"]["healthcheck"]["test"] == [
        "CMD",
        "oauthbearer",
        "probe",
        "readyz",
    ]


def test_dockerfile_runs_serve_as_numeric_non_root_with_a_healthcheck() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    final_stage = text.rsplit("\nFROM ", 1)[1]
    user = re.search(r"^USER (\d+):(\d+)$", final_stage, re.MULTILINE)
    assert user is not None
    assert int(user.group(1)) >= 1000
    assert 'ENTRYPOINT ["oauthbearer"]' in final_stage
    assert 'CMD ["serve"]' in final_stage
    assert "HEALTHCHECK" in final_stage
    for line in text.splitlines():
        if line.startswith(("ENV", "ARG")):
            assert not re.search(r"SECRET|AUTHORIZATION|CALLERS|PASSWORD", line), line


def test_the_image_ships_the_compiled_build_and_checks_it() -> None:
    import tomllib

    text = (DEPLOY / "Dockerfile").read_text()
    build_stage = text.split("\nFROM ", 2)[1]
    assert "COPY pyproject.toml setup.py README.md ./" in build_stage
    assert "OAUTHBEARER_COMPILE=1" in build_stage
    # The image fails to build rather than ship a partly compiled package. The check runs
    # with -P: from WORKDIR /src, `python -c` imported the source's .py files first, and
    # the check failed every build.
    [check] = [line for line in build_stage.splitlines() if "compiled() == MODULES" in line]
    assert "/opt/oauthbearer/bin/python -P -c" in check
    # The same mypy (and so mypyc) as the one the tests run the compiled build with.
    dev = tomllib.loads((DEPLOY.parent / "pyproject.toml").read_text())["project"]
    [pin] = [d for d in dev["optional-dependencies"]["dev"] if d.startswith("mypy==")]
    assert f'"{pin}"' in build_stage


def test_image_entrypoint_is_a_real_command() -> None:
    import subprocess
    import sys
    import tomllib

    project = tomllib.loads((DEPLOY.parent / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["oauthbearer"] == "oauthbearer.cli:main"
    text = (DEPLOY / "Dockerfile").read_text()
    entrypoint = json.loads(re.search(r"^ENTRYPOINT (.+)$", text, re.MULTILINE).group(1))  # type: ignore[union-attr]
    command = json.loads(re.search(r"^CMD (.+)$", text, re.MULTILINE).group(1))  # type: ignore[union-attr]
    assert entrypoint == ["oauthbearer"]
    # What the container runs, minus the environment: `serve --help` must parse and list
    # every variable the compose file and the manifests set.
    result = subprocess.run(
        [sys.executable, "-m", "oauthbearer.cli", *command, "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    for service in ("sidecar",):
        for name in _compose()["services"][service]["environment"]:
            if not name.startswith("<<"):
                assert name in result.stdout, name
    for container in _containers_named("oauthbearer"):
        for variable in container["env"]:
            # NAME_FILE is documented once, as "NAME … (+_FILE)".
            assert variable["name"].removesuffix("_FILE") in result.stdout, variable["name"]


def test_documented_commands_exist() -> None:
    import os

    from oauthbearer.cli import build_parser

    readme = (DEPLOY.parent / "README.md").read_text()
    first_block = readme.split("```sh\n", 1)[1].split("```", 1)[0]
    for line in first_block.strip().splitlines():
        script = DEPLOY.parent / line.split()[0]
        assert script.is_file(), line
        assert os.access(script, os.X_OK), line
    action = build_parser()._subparsers._group_actions[0]  # type: ignore[union-attr]
    assert isinstance(action.choices, dict)
    subcommands = set(action.choices)
    for documented in re.findall(r"`oauthbearer (\w+)", readme):
        assert documented in subcommands, documented
    assert (DEPLOY / "examples" / "produce.py").is_file()


def test_broker_egress_lets_the_sidecar_read_its_topics_and_the_brokers_replicate() -> None:
    (policy,) = [d for name, d in _k8s_documents() if name == "networkpolicy-broker.yaml"]
    (in_pod,) = [c for c in _containers_named("oauthbearer") if c.get("restartPolicy")]
    env = {e["name"]: e.get("value") for e in in_pod["env"]}
    events_port = int(env["OAUTHBEARER_EVENTS_BOOTSTRAP_SERVERS"].rpartition(":")[2])
    to_brokers = {
        port["port"]
        for rule in policy["spec"]["egress"]
        for peer in rule.get("to", [])
        if peer.get("podSelector", {}).get("matchLabels") == {"app.kubernetes.io/name": "kafka"}
        for port in rule["ports"]
    }
    # The metadata answer sends the consumer on to the other brokers on that port; the
    # brokers themselves need the controller quorum and replication.
    assert {events_port, 9091, 9093} <= to_brokers
    (statefulset,) = [d for _, d in _k8s_documents() if d["kind"] == "StatefulSet"]
    services = {d["metadata"]["name"]: d for _, d in _k8s_documents() if d["kind"] == "Service"}
    governing = services[statefulset["spec"]["serviceName"]]
    assert governing["spec"]["clusterIP"] == "None"
    # A pod is ready only once its sidecar replayed topics other brokers lead: names that
    # waited for readiness would never resolve after a cold start.
    assert governing["spec"]["publishNotReadyAddresses"] is True


#: Settings that make something write revocations: a webhook caller, or a topic of the
#: identity provider's own.
REVOCATION_WRITERS = {
    "OAUTHBEARER_EVENT_CALLERS",
    "OAUTHBEARER_EVENT_CALLERS_FILE",
    "OAUTHBEARER_KEYCLOAK_EMITTER_SECRET",
    "OAUTHBEARER_KEYCLOAK_EMITTER_SECRET_FILE",
    "OAUTHBEARER_EVENTS_TOPIC",
    "OAUTHBEARER_KEYCLOAK_EVENT_TOPICS",
}


def _every_sidecar_container() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted([*DEPLOY.glob("k8s/*.yaml"), *DEPLOY.glob("strimzi/*.yaml")]):
        for doc in strict_yaml.load_all(path.read_text()):
            spec = (doc or {}).get("spec", {}).get("template", {}).get("spec", {})
            for container in spec.get("containers", []) + spec.get("initContainers", []):
                if container["name"] == "oauthbearer":
                    found.append((path.name, container))
    return found


def test_every_sidecar_reading_revocations_has_something_that_writes_them() -> None:
    # strimzi/sidecar.yaml once named a revocations topic with no webhook secret: no
    # /events route existed, and nothing ever wrote the topic it replayed.
    containers = _every_sidecar_container()
    assert len(containers) == 3
    for name, container in containers:
        env = {e["name"] for e in container["env"]}
        if "OAUTHBEARER_EVENTS_BOOTSTRAP_SERVERS" in env:
            assert env & REVOCATION_WRITERS, name


def test_the_broker_beside_its_sidecar_can_read_its_caller_secret() -> None:
    # The validator snippet reads ${file:/etc/kafka/secrets/sidecar-caller.properties:secret}.
    snippet = (DEPLOY / "broker" / "strimzi-introspection.properties").read_text()
    assert "${file:/etc/kafka/secrets/sidecar-caller.properties:secret}" in snippet
    (statefulset,) = [d for _, d in _k8s_documents() if d["kind"] == "StatefulSet"]
    pod = statefulset["spec"]["template"]["spec"]
    (kafka,) = [c for c in pod["containers"] if c["name"] == "kafka"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    paths = {
        f"{mount['mountPath']}/{item['path']}": (volumes[mount["name"]]["secret"], item["key"])
        for mount in kafka["volumeMounts"]
        for item in volumes[mount["name"]]["secret"]["items"]
    }
    secret, key = paths["/etc/kafka/secrets/sidecar-caller.properties"]
    (example,) = [d for n, d in _k8s_documents() if n == "secret.example.yaml"]
    assert secret["secretName"] == example["metadata"]["name"]
    assert example["stringData"][key].startswith("secret=")
