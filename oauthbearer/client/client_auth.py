"""How the client proves who it is to the token endpoint, one class per method.

Each method adds to the form body and headers of one request. JWT client assertions are
minted for every request with a fresh ``jti``, a short ``exp`` and ``aud`` set to the token
endpoint (RFC 7523 §3), because servers keep a ``jti`` replay list and refuse re-use.

Example:
    >>> from oauthbearer._secret import Secret
    >>> from oauthbearer.client.settings import ClientSettings
    >>> s = ClientSettings(token_url="https://idp.example/token", client_id="kafka",
    ...                    client_secret=Secret("a b"))
    >>> form, headers = [], {}
    >>> client_auth_for(s, clock=lambda: 0.0).apply(form, headers, s.token_url)
    >>> headers["Authorization"]
    'Basic a2Fma2E6YSUyMGI='
"""

from __future__ import annotations

import base64
import threading
import uuid
from collections.abc import Callable
from typing import Protocol
from urllib.parse import quote

from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, RSAKey

from oauthbearer._env import header_value
from oauthbearer._secret import SecretSource
from oauthbearer.client.auth_methods import private_signing_key
from oauthbearer.client.settings import ClientSettings
from oauthbearer.client.settings import need as _need
from oauthbearer.client.variables import (
    V_AUTHORIZATION,
    V_CLIENT_ASSERTION,
    V_CLIENT_ID,
    V_CLIENT_SECRET,
    V_PRIVATE_KEY,
)

__all__ = ["ASSERTION_LIFETIME", "ClientAuth", "client_auth_for"]

Params = list[tuple[str, str]]
Clock = Callable[[], float]

#: Seconds a client assertion stays valid: long enough for one request, no more.
ASSERTION_LIFETIME = 60
# RFC 7523 §2.2
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class ClientAuth(Protocol):
    """One client authentication method."""

    method: str

    def apply(self, form: Params, headers: dict[str, str], token_url: str) -> None:
        """Add credentials to one token request."""
        ...

    def reload(self) -> bool:
        """Re-read secret files; ``True`` when the credential differs from the last one used."""
        ...


class _Sourced:
    """Shared bookkeeping: which secret value went into the last request."""

    method = ""

    def __init__(self, source: SecretSource | None) -> None:
        self._source = source
        self._lock = threading.Lock()
        self._last_used: str | None = None

    def _reveal(self) -> str:
        if self._source is None:
            return ""
        value = self._source.reveal()
        with self._lock:
            self._last_used = value
        return value

    def reload(self) -> bool:
        if self._source is None:
            return False
        self._source.reload()
        value = self._source.reveal()
        with self._lock:
            return value != self._last_used


class AuthorizationHeader(_Sourced):
    """jairsjunior's ``OAUTH_AUTHORIZATION``: the whole header value, sent verbatim."""

    method = "authorization_header"

    def apply(self, form: Params, headers: dict[str, str], token_url: str) -> None:
        headers["Authorization"] = header_value(V_AUTHORIZATION, self._reveal())


class ClientSecretBasic(_Sourced):
    """RFC 6749 §2.3.1 HTTP Basic.

    The RFC says to form-encode (Appendix B) the id and the secret before Basic-encoding;
    servers that do not decode exist, hence ``form_encode=False``. ``quote(safe="")`` is a
    valid Appendix B encoding that also survives decoders that do not map ``+`` to space.
    """

    method = "client_secret_basic"

    def __init__(self, client_id: str, secret: SecretSource, *, form_encode: bool) -> None:
        super().__init__(secret)
        self._client_id = client_id
        self._form_encode = form_encode

    def apply(self, form: Params, headers: dict[str, str], token_url: str) -> None:
        user, password = self._client_id, self._reveal()
        if self._form_encode:
            user, password = quote(user, safe=""), quote(password, safe="")
        raw = f"{user}:{password}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(raw).decode("ascii")


class ClientSecretPost(_Sourced):
    """RFC 6749 §2.3.1: ``client_id`` and ``client_secret`` in the request body."""

    method = "client_secret_post"

    def __init__(self, client_id: str, secret: SecretSource) -> None:
        super().__init__(secret)
        self._client_id = client_id

    def apply(self, form: Params, headers: dict[str, str], token_url: str) -> None:
        form += [("client_id", self._client_id), ("client_secret", self._reveal())]


class _JwtAssertion(_Sourced):
    """RFC 7523 §2.2 / §3 and OpenID Connect Core §9: a signed JWT as client credential."""

    def __init__(
        self, client_id: str, source: SecretSource, *, alg: str, key_id: str | None, clock: Clock
    ) -> None:
        super().__init__(source)
        self._client_id = client_id
        self._alg = alg
        self._key_id = key_id
        self._clock = clock

    def _key(self, material: str) -> OctKey | RSAKey | ECKey:
        raise NotImplementedError

    def apply(self, form: Params, headers: dict[str, str], token_url: str) -> None:
        now = int(self._clock())
        claims = {
            "iss": self._client_id,  # RFC 7523 §3 items 1-2: iss and sub are the client_id
            "sub": self._client_id,
            "aud": token_url,  # §3 item 3: the token endpoint identifies the audience
            "jti": uuid.uuid4().hex,  # §3 item 7: unique per assertion, servers refuse replays
            "iat": now,
            "exp": now + ASSERTION_LIFETIME,  # §3 item 4: short-lived
        }
        header: dict[str, str] = {"alg": self._alg, "typ": "JWT"}
        if self._key_id:
            header["kid"] = self._key_id
        assertion = jwt.encode(header, claims, self._key(self._reveal()), algorithms=[self._alg])
        form += [
            ("client_id", self._client_id),
            ("client_assertion_type", CLIENT_ASSERTION_TYPE),
            ("client_assertion", assertion),
        ]


class ClientSecretJwt(_JwtAssertion):
    """``client_secret_jwt``: the assertion is HMAC-signed with the client secret."""

    method = "client_secret_jwt"

    def _key(self, material: str) -> OctKey:
        return OctKey.import_key(material.encode())


class PrivateKeyJwt(_JwtAssertion):
    """``private_key_jwt``: the assertion is signed with the client's private key (PEM)."""

    method = "private_key_jwt"

    def _key(self, material: str) -> RSAKey | ECKey:
        # Judged again on every read: the file may have been rotated to a key of another
        # type or curve, which must fail naming the file, not inside joserfc.
        key, _ = private_signing_key(material, self._alg)
        return key


class ClientAssertion(_Sourced):
    """A JWT the platform wrote (a Kubernetes service-account token, Azure's federated
    token, a SPIFFE JWT-SVID), sent as ``client_assertion`` (RFC 7523 §2.2).

    Re-read on every request (it is read again whenever the file changed): the platform
    rotates it, and an expired assertion is refused.
    """

    method = "client_assertion"

    def __init__(self, client_id: str | None, assertion: SecretSource) -> None:
        super().__init__(assertion)
        self._client_id = client_id

    def apply(self, form: Params, headers: dict[str, str], token_url: str) -> None:
        if self._client_id:
            form.append(("client_id", self._client_id))
        form.append(("client_assertion_type", CLIENT_ASSERTION_TYPE))
        form.append(("client_assertion", self._reveal().strip()))


class ClientIdOnly(_Sourced):
    """``none`` (public client, RFC 6749 §2.1) and ``tls_client_auth`` (RFC 8705 §2.1).

    Both send ``client_id`` in the body; tls_client_auth proves it with the client
    certificate presented during the TLS handshake, which the HTTP client carries.
    """

    def __init__(self, method: str, client_id: str | None) -> None:
        super().__init__(None)
        self.method = method
        self._client_id = client_id

    def apply(self, form: Params, headers: dict[str, str], token_url: str) -> None:
        if self._client_id:
            form.append(("client_id", self._client_id))


def client_auth_for(settings: ClientSettings, *, clock: Clock) -> ClientAuth:
    """The :class:`ClientAuth` for ``settings.auth_method`` (validated by the settings)."""
    method = settings.auth_method
    if method == "authorization_header":
        return AuthorizationHeader(_need(settings.authorization, V_AUTHORIZATION))
    if method in ("none", "tls_client_auth"):
        return ClientIdOnly(method, settings.client_id)
    if method == "client_assertion":
        assertion = _need(settings.client_assertion, V_CLIENT_ASSERTION + "_FILE")
        return ClientAssertion(settings.client_id, assertion)
    client_id = _need(settings.client_id, V_CLIENT_ID)
    if method == "client_secret_basic":
        secret = _need(settings.client_secret, V_CLIENT_SECRET)
        return ClientSecretBasic(client_id, secret, form_encode=settings.basic_form_encode)
    if method == "client_secret_post":
        return ClientSecretPost(client_id, _need(settings.client_secret, V_CLIENT_SECRET))
    if method == "client_secret_jwt":
        secret = _need(settings.client_secret, V_CLIENT_SECRET)
        return ClientSecretJwt(
            client_id, secret, alg=settings.assertion_alg, key_id=settings.key_id, clock=clock
        )
    key = _need(settings.private_key, V_PRIVATE_KEY + "_FILE")
    return PrivateKeyJwt(
        client_id, key, alg=settings.assertion_alg, key_id=settings.key_id, clock=clock
    )
