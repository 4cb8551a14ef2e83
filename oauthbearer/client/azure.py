"""Azure workload identity: a pod's federated token as the client's credential.

On AKS with workload identity the platform injects ``AZURE_CLIENT_ID``,
``AZURE_TENANT_ID``, ``AZURE_FEDERATED_TOKEN_FILE`` (a Kubernetes service-account JWT it
rotates) and ``AZURE_AUTHORITY_HOST``. When no ``OAUTH_LOGIN_*`` endpoint is configured,
these make the client: the token endpoint is the tenant's v2.0 endpoint, the federated
token is sent as ``client_assertion`` (RFC 7523 §2.2, re-read whenever the file changes),
so a pod talking to Event Hubs' Kafka endpoint needs only ``OAUTH_LOGIN_SCOPE``
(``https://<namespace>.servicebus.windows.net/.default``) besides what the platform sets.

The variables are checked as azure-identity and Entra ID check them, at start-up rather
than at the first fetch: the scope is required and ends in ``/.default``, and the
authority is https (a bare host gets ``https://``, as azure-identity gives it).

Example:
    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile("w", delete=False) as f:
    ...     _ = f.write("eyJ...federated")
    >>> w = workload_identity(Env({"AZURE_CLIENT_ID": "c1", "AZURE_TENANT_ID": "t1",
    ...                            "AZURE_FEDERATED_TOKEN_FILE": f.name,
    ...                            "OAUTH_LOGIN_SCOPE": "api://orders/.default"}))
    >>> w.token_url, w.client_id
    ('https://login.microsoftonline.com/t1/oauth2/v2.0/token', 'c1')
"""

from __future__ import annotations

from dataclasses import dataclass

from oauthbearer._env import Env, split_url
from oauthbearer._secret import FileSecret
from oauthbearer.errors import ConfigurationError

__all__ = ["AZURE_VARIABLES", "WorkloadIdentity", "workload_identity"]

AZURE_VARIABLES = (
    "AZURE_CLIENT_ID",
    "AZURE_TENANT_ID",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_AUTHORITY_HOST",
)
_DEFAULT_AUTHORITY = "https://login.microsoftonline.com/"
# V_SCOPE of oauthbearer.client.variables, which imports this module for AZURE_VARIABLES.
_SCOPE = "OAUTH_LOGIN_SCOPE"


@dataclass(frozen=True, slots=True)
class WorkloadIdentity:
    token_url: str
    client_id: str
    assertion: FileSecret


def workload_identity(env: Env) -> WorkloadIdentity | None:
    """The client settings Azure's injected variables make, or None when they are absent."""
    token_file = env.text("AZURE_FEDERATED_TOKEN_FILE")
    if token_file is None:
        return None
    client_id = env.text("AZURE_CLIENT_ID")
    if not client_id:
        raise ConfigurationError("AZURE_CLIENT_ID", "is required with AZURE_FEDERATED_TOKEN_FILE")
    tenant = env.text("AZURE_TENANT_ID")
    if not tenant:
        raise ConfigurationError("AZURE_TENANT_ID", "is required with AZURE_FEDERATED_TOKEN_FILE")
    _check_scope(env.text(_SCOPE))
    authority = _authority(env.text("AZURE_AUTHORITY_HOST") or _DEFAULT_AUTHORITY)
    token_url = f"{authority}/{tenant}/oauth2/v2.0/token"
    assertion = FileSecret(token_file, variable="AZURE_FEDERATED_TOKEN_FILE")
    assertion.reveal()  # unreadable: fail at start-up, naming the variable
    return WorkloadIdentity(token_url, client_id, assertion)


def _check_scope(scope: str | None) -> None:
    """Entra ID's v2.0 endpoint takes client credentials only for ``<resource>/.default``
    (the application permissions granted on the resource); without it every fetch fails
    (AADSTS900144 without a scope, AADSTS1002012 with another)."""
    why = (
        "Entra ID issues client credentials tokens only for <resource>/.default, "
        "e.g. https://<namespace>.servicebus.windows.net/.default for Event Hubs"
    )
    if scope is None:
        raise ConfigurationError(_SCOPE, f"is required with Azure workload identity: {why}")
    if not all(item.endswith("/.default") for item in scope.split()):
        raise ConfigurationError(_SCOPE, f"must end in /.default, got {scope!r}: {why}")


def _authority(value: str) -> str:
    """``AZURE_AUTHORITY_HOST`` as azure-identity reads it: https, added to a bare host."""
    if "://" not in value:
        value = "https://" + value  # sovereign clouds are often set as a bare host
    parts = split_url("AZURE_AUTHORITY_HOST", value)
    if parts.scheme != "https" or not parts.netloc:
        # The federated token is the credential: azure-identity refuses non-https too.
        raise ConfigurationError(
            "AZURE_AUTHORITY_HOST",
            f"must be an https URL or a host name, got {value!r}: "
            "the federated token must not travel without TLS",
        )
    return value.rstrip("/")
