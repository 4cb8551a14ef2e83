"""deploy/strimzi/ checked offline against the Strimzi CRDs in ../shared/strimzi-crds.

Every ``Kafka`` document is validated against the ``openAPIV3Schema`` of the version it
names, as the API server of a cluster with that Strimzi release would (the CRD of 1.2.0
serves only ``v1``; 0.49.1 serves ``v1`` and ``v1beta2``). Kubernetes kinds go through
kubernetes-validate as the rest of deploy/ does; the cert-manager Certificate's required
fields are checked by hand (no schema for it ships here). Each validator is also shown a
broken document, so these tests can fail.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.support import strict_yaml

ROOT = Path(__file__).resolve().parents[3]
STRIMZI = ROOT / "deploy" / "strimzi"
CRDS = ROOT.parent / "shared" / "strimzi-crds"
K8S_VERSION = "1.33.0"
#: Which Strimzi release's CRD serves each Kafka API version.
CRD_FOR = {
    "kafka.strimzi.io/v1": "kafka-crd-1.2.0.yaml",
    "kafka.strimzi.io/v1beta2": "kafka-crd-0.49.1.yaml",
}


def _documents() -> list[tuple[str, dict[str, Any]]]:
    docs: list[tuple[str, dict[str, Any]]] = []
    for path in sorted(STRIMZI.glob("*.yaml")):
        docs.extend((path.name, doc) for doc in strict_yaml.load_all(path.read_text()) if doc)
    return docs


def _schema(api_version: str) -> dict[str, Any]:
    crd = yaml.safe_load((CRDS / CRD_FOR[api_version]).read_text())
    version = api_version.split("/")[1]
    (served,) = [v for v in crd["spec"]["versions"] if v["name"] == version and v["served"]]
    strict: dict[str, Any] = _strict(served["schema"]["openAPIV3Schema"])
    return strict


def _strict(schema: Any) -> Any:
    """Unknown fields refused, as ``kubectl apply --validate=strict`` does (the API server
    would silently prune them), except where the CRD keeps them on purpose."""
    if isinstance(schema, dict):
        strict = {key: _strict(value) for key, value in schema.items()}
        # Only real object schemas: oneOf branches name properties just to discriminate.
        if (
            strict.get("type") == "object"
            and "properties" in strict
            and not strict.get("x-kubernetes-preserve-unknown-fields")
        ):
            strict.setdefault("additionalProperties", False)
        return strict
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    return schema


pytestmark = pytest.mark.skipif(not CRDS.is_dir(), reason=f"no Strimzi CRDs at {CRDS}")

KAFKAS = [(name, doc) for name, doc in _documents() if doc["kind"] == "Kafka"]


def test_both_strimzi_generations_are_covered() -> None:
    assert sorted(doc["apiVersion"] for _, doc in KAFKAS) == sorted(CRD_FOR)


@pytest.mark.parametrize(("name", "doc"), KAFKAS, ids=[name for name, _ in KAFKAS])
def test_kafka_resources_match_their_served_crd_version(name: str, doc: dict[str, Any]) -> None:
    jsonschema.validate(doc, _schema(doc["apiVersion"]))


def test_the_v1_schema_refuses_type_oauth() -> None:
    (_, doc) = next((n, d) for n, d in KAFKAS if d["apiVersion"] == "kafka.strimzi.io/v1")
    broken = json.loads(json.dumps(doc))
    broken["spec"]["kafka"]["listeners"][0]["authentication"] = {
        "type": "oauth",
        "introspectionEndpointUri": "https://oauthbearer.kafka.svc:8443/oauth2/introspect",
    }
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, _schema(broken["apiVersion"]))


def test_a_misspelt_field_is_refused() -> None:
    (_, doc) = next((n, d) for n, d in KAFKAS if d["apiVersion"].endswith("v1beta2"))
    broken = json.loads(json.dumps(doc))
    auth = broken["spec"]["kafka"]["listeners"][0]["authentication"]
    auth["introspectionEndpointURI"] = auth.pop("introspectionEndpointUri")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, _schema(broken["apiVersion"]))


def test_both_point_at_the_sidecar_over_https_and_trust_its_ca() -> None:
    for _, doc in KAFKAS:
        auth = doc["spec"]["kafka"]["listeners"][0]["authentication"]
        if doc["apiVersion"].endswith("v1beta2"):
            assert auth["introspectionEndpointUri"].startswith("https://oauthbearer.")
            assert auth["tlsTrustedCertificates"] == [
                {"secretName": "oauthbearer-tls", "certificate": "ca.crt"}
            ]
        else:
            jaas = auth["listenerConfig"]["oauthbearer.sasl.jaas.config"]
            assert 'oauth.introspection.endpoint.uri="https://oauthbearer.' in jaas
            assert 'oauth.ssl.truststore.type="PEM"' in jaas
            assert (
                doc["spec"]["kafka"]["config"]["principal.builder.class"]
                == "io.strimzi.kafka.oauth.server.OAuthKafkaPrincipalBuilder"
            )


#: Kinds whose schema does not ship with kubernetes-validate (Strimzi's, cert-manager's).
CUSTOM_KINDS = ("Kafka", "KafkaUser", "KafkaTopic", "Certificate")
KUBERNETES = [(name, doc) for name, doc in _documents() if doc["kind"] not in CUSTOM_KINDS]


@pytest.mark.parametrize(
    ("name", "doc"), KUBERNETES, ids=[f"{name}:{doc['kind']}" for name, doc in KUBERNETES]
)
def test_kubernetes_kinds_are_valid(name: str, doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_the_sidecar_set_is_complete_and_served_over_https() -> None:
    kinds = {doc["kind"]: doc for name, doc in _documents() if name == "sidecar.yaml"}
    assert set(kinds) == {
        "Certificate",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "NetworkPolicy",
    }
    certificate = kinds["Certificate"]["spec"]
    assert certificate["secretName"] == "oauthbearer-tls"
    assert "oauthbearer.kafka.svc" in certificate["dnsNames"]
    assert certificate["issuerRef"]["name"]
    container = kinds["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["OAUTHBEARER_TLS_CERT_FILE"].startswith("/var/run/oauthbearer-tls/")
    assert container["readinessProbe"]["httpGet"]["scheme"] == "HTTPS"
    assert kinds["PodDisruptionBudget"]["spec"]["minAvailable"] == 1
    assert kinds["Deployment"]["spec"]["replicas"] >= 2


def _sidecar_container() -> dict[str, Any]:
    (deployment,) = [
        d for n, d in _documents() if n == "sidecar.yaml" and d["kind"] == "Deployment"
    ]
    container: dict[str, Any] = deployment["spec"]["template"]["spec"]["containers"][0]
    return container


def _mounted_secrets(container: dict[str, Any]) -> dict[str, str]:
    """Mount path of each Secret the sidecar's pod mounts, by Secret name."""
    (deployment,) = [
        d for n, d in _documents() if n == "sidecar.yaml" and d["kind"] == "Deployment"
    ]
    volumes = {
        v["name"]: v["secret"]["secretName"]
        for v in deployment["spec"]["template"]["spec"]["volumes"]
        if "secret" in v
    }
    return {volumes[m["name"]]: m["mountPath"] for m in container["volumeMounts"]}


@pytest.mark.parametrize("filename", sorted({name for name, _ in KAFKAS}))
def test_the_sidecar_reads_revocations_through_a_listener_it_does_not_validate(
    filename: str,
) -> None:
    # Through the OAuth listener, the sidecar would log in through itself, and it is
    # ready only once it has read the topics: a cold start would wait forever.
    docs = [doc for name, doc in _documents() if name == filename]
    (kafka,) = [d for d in docs if d["kind"] == "Kafka"]
    (user,) = [d for d in docs if d["kind"] == "KafkaUser"]
    assert user["apiVersion"] == kafka["apiVersion"]
    assert user["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
    assert "userOperator" in kafka["spec"]["entityOperator"]
    (scram,) = [
        listener
        for listener in kafka["spec"]["kafka"]["listeners"]
        if listener["authentication"]["type"] == user["spec"]["authentication"]["type"]
    ]
    assert scram["tls"] is True

    container = _sidecar_container()
    env = {e["name"]: e.get("value") for e in container["env"]}
    cluster = kafka["metadata"]["name"]
    assert env["OAUTHBEARER_EVENTS_BOOTSTRAP_SERVERS"] == (
        f"{cluster}-kafka-bootstrap.kafka.svc:{scram['port']}"
    )
    assert env["OAUTHBEARER_EVENTS_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert env["OAUTHBEARER_EVENTS_SASL_MECHANISM"] == "SCRAM-SHA-512"
    assert env["OAUTHBEARER_EVENTS_SASL_USERNAME"] == user["metadata"]["name"]
    secrets = _mounted_secrets(container)
    # The User Operator's Secret (named after the user) and the cluster CA's.
    assert env["OAUTHBEARER_EVENTS_SASL_PASSWORD_FILE"] == (
        secrets[user["metadata"]["name"]] + "/password"
    )
    assert env["OAUTHBEARER_EVENTS_CA_FILE"] == secrets[f"{cluster}-cluster-ca-cert"] + "/ca.crt"


def test_the_brokers_may_read_the_caller_secret_the_config_provider_names() -> None:
    (kafka,) = [d for _, d in KAFKAS if d["apiVersion"] == "kafka.strimzi.io/v1"]
    jaas = kafka["spec"]["kafka"]["listeners"][0]["authentication"]["listenerConfig"][
        "oauthbearer.sasl.jaas.config"
    ]
    namespace, secret = jaas.split("${strimzisecrets:", 1)[1].split(":", 1)[0].split("/")
    rbac = {d["kind"]: d for n, d in _documents() if n == "broker-caller-secret-rbac.yaml"}
    (rule,) = rbac["Role"]["rules"]
    assert rule["resources"] == ["secrets"]
    assert rule["resourceNames"] == [secret]
    assert rule["verbs"] == ["get"]
    assert rbac["Role"]["metadata"]["namespace"] == namespace
    (subject,) = rbac["RoleBinding"]["subjects"]
    # Strimzi runs every broker of a cluster under the ServiceAccount <cluster>-kafka.
    assert subject == {
        "kind": "ServiceAccount",
        "name": f"{kafka['metadata']['name']}-kafka",
        "namespace": namespace,
    }
    assert rbac["RoleBinding"]["roleRef"]["name"] == rbac["Role"]["metadata"]["name"]


def test_the_revocations_topic_is_declared_as_the_sidecar_names_it_and_kept_whole() -> None:
    (topic,) = [d for _, d in _documents() if d["kind"] == "KafkaTopic"]
    env = {e["name"]: e.get("value") for e in _sidecar_container()["env"]}
    assert topic["metadata"]["name"] == env["OAUTHBEARER_REVOCATIONS_TOPIC"]
    assert topic["apiVersion"] == "kafka.strimzi.io/v1"  # served by 0.49 and 1.x
    kafka_names = {d["metadata"]["name"] for _, d in KAFKAS}
    assert topic["metadata"]["labels"]["strimzi.io/cluster"] in kafka_names
    spec = topic["spec"]
    assert (spec["partitions"], spec["replicas"]) == (1, 3)
    assert spec["config"]["cleanup.policy"] == "delete"
    assert spec["config"]["min.insync.replicas"] == 2
    assert spec["config"]["retention.ms"] >= 7 * 86_400_000


def test_the_keycloak_emitter_may_post_to_the_sidecar() -> None:
    env = {e["name"]: e.get("value") for e in _sidecar_container()["env"]}
    secret_file = env["OAUTHBEARER_KEYCLOAK_EMITTER_SECRET_FILE"]
    assert secret_file.startswith(_mounted_secrets(_sidecar_container())["oauthbearer-sidecar"])
    (policy,) = [d for n, d in _documents() if n == "sidecar.yaml" and d["kind"] == "NetworkPolicy"]
    peers = [peer for rule in policy["spec"]["ingress"] for peer in rule["from"]]
    assert any(
        peer.get("podSelector", {}).get("matchLabels") == {"app.kubernetes.io/name": "keycloak"}
        for peer in peers
    )
