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
        docs.extend((path.name, doc) for doc in yaml.safe_load_all(path.read_text()) if doc)
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


KUBERNETES = [
    (name, doc) for name, doc in _documents() if doc["kind"] not in ("Kafka", "Certificate")
]


@pytest.mark.parametrize(
    ("name", "doc"), KUBERNETES, ids=[f"{name}:{doc['kind']}" for name, doc in KUBERNETES]
)
def test_kubernetes_kinds_are_valid(name: str, doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_the_sidecar_set_is_complete_and_served_over_https() -> None:
    kinds = {doc["kind"]: doc for _, doc in _documents() if doc["kind"] != "Kafka"}
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
