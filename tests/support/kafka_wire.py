"""The few pieces of the Kafka wire protocol the SASL front needs (test infrastructure).

Only what a broker's SASL layer reads and writes before handing a connection to the
request handlers: request/response framing, request headers, ApiVersions (v0-v3, with
KIP-482 flexible encoding for v3), SaslHandshake (v0-v1), SaslAuthenticate (v0-v2), the
``acks`` of a Produce request (acks=0 gets no response), and the RFC 7628 client initial
response parsed exactly as Kafka's ``OAuthBearerClientInitialResponse`` does. Layouts
follow ``clients/src/main/resources/common/message/*.json`` in apache/kafka.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field

__all__ = [
    "API_VERSIONS",
    "PRODUCE",
    "SASL_AUTHENTICATE",
    "SASL_HANDSHAKE",
    "ClientInitialResponse",
    "Reader",
    "RequestHeader",
    "SaslError",
    "WireError",
    "api_versions_request",
    "decode_api_versions_response",
    "encode_api_versions_response",
    "encode_sasl_authenticate_response",
    "encode_sasl_handshake_response",
    "frame",
    "parse_client_initial_response",
    "parse_request_header",
    "parse_sasl_authenticate_request",
    "parse_sasl_handshake_request",
    "produce_acks",
]

# API keys and error codes used here (org.apache.kafka.common.protocol.ApiKeys / Errors).
PRODUCE = 0
SASL_HANDSHAKE = 17
API_VERSIONS = 18
SASL_AUTHENTICATE = 36
NONE = 0
UNSUPPORTED_VERSION = 35
UNSUPPORTED_SASL_MECHANISM = 33
ILLEGAL_SASL_STATE = 34
SASL_AUTHENTICATION_FAILED = 58


class WireError(ValueError):
    """Bytes that are not a well-formed Kafka message of the expected kind."""


class SaslError(ValueError):
    """An OAUTHBEARER client message Kafka's broker would reject (a SaslException there)."""


# --- primitive decoding --------------------------------------------------------------
class Reader:
    """Sequential reader over one message; every read is bounds-checked."""

    def __init__(self, data: bytes, offset: int = 0) -> None:
        self.data = data
        self.pos = offset

    def _take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise WireError(f"truncated message: need {n} bytes at offset {self.pos}")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def int16(self) -> int:
        value: int = struct.unpack(">h", self._take(2))[0]
        return value

    def int32(self) -> int:
        value: int = struct.unpack(">i", self._take(4))[0]
        return value

    def int64(self) -> int:
        value: int = struct.unpack(">q", self._take(8))[0]
        return value

    def uvarint(self) -> int:
        value = shift = 0
        while True:
            byte = self._take(1)[0]
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7
            if shift > 28:
                raise WireError("unsigned varint longer than 5 bytes")

    def nullable_string(self) -> str | None:
        n = self.int16()
        return None if n == -1 else self._take(n).decode("utf-8")

    def compact_nullable_string(self) -> str | None:
        n = self.uvarint() - 1
        return None if n == -1 else self._take(n).decode("utf-8")

    def bytes32(self) -> bytes:
        return self._take(self.int32())

    def compact_bytes(self) -> bytes:
        n = self.uvarint() - 1
        if n < 0:
            raise WireError("null where bytes are required")
        return self._take(n)

    def skip_tagged_fields(self) -> None:
        for _ in range(self.uvarint()):
            self.uvarint()  # tag
            self._take(self.uvarint())

    def rest(self) -> bytes:
        return self._take(len(self.data) - self.pos)


# --- primitive encoding --------------------------------------------------------------
def _uvarint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _i16(value: int) -> bytes:
    return struct.pack(">h", value)


def _i32(value: int) -> bytes:
    return struct.pack(">i", value)


def _nullable_string(value: str | None) -> bytes:
    if value is None:
        return _i16(-1)
    raw = value.encode("utf-8")
    return _i16(len(raw)) + raw


def _compact_nullable_string(value: str | None) -> bytes:
    if value is None:
        return _uvarint(0)
    raw = value.encode("utf-8")
    return _uvarint(len(raw) + 1) + raw


NO_TAGS = _uvarint(0)


def frame(payload: bytes) -> bytes:
    """Prefix a request or response with its int32 size, as on the socket."""
    return _i32(len(payload)) + payload


# --- headers -------------------------------------------------------------------------
def _request_is_flexible(api_key: int, version: int) -> bool:
    """KIP-482 request header v2 (tagged fields) for the APIs whose body we parse."""
    return {API_VERSIONS: 3, SASL_AUTHENTICATE: 2, PRODUCE: 9}.get(api_key, 1 << 15) <= version


@dataclass(frozen=True)
class RequestHeader:
    api_key: int
    api_version: int
    correlation_id: int
    client_id: str | None
    body_offset: int  # where the request body starts in the frame payload


def parse_request_header(payload: bytes) -> RequestHeader:
    """Header v1, or v2 (plus tagged fields) where the API version is flexible.

    An ApiVersions request at a version we do not know is still read as header v2
    when >= 3, as Kafka does (KIP-511): its body is ignored anyway.
    """
    r = Reader(payload)
    api_key, version, correlation_id = r.int16(), r.int16(), r.int32()
    client_id = r.nullable_string()  # never compact, even in header v2
    if _request_is_flexible(api_key, version):
        r.skip_tagged_fields()
    return RequestHeader(api_key, version, correlation_id, client_id, r.pos)


def _response(correlation_id: int, body: bytes, *, flexible_header: bool) -> bytes:
    """Response header v0 (correlation id), or v1 (plus tagged fields), then the body."""
    return _i32(correlation_id) + (NO_TAGS if flexible_header else b"") + body


# --- ApiVersions ---------------------------------------------------------------------
API_VERSIONS_MAX = 3  # v4 exists upstream; advertising 3 exercises clients' fallback


def api_versions_request(correlation_id: int, client_id: str = "sasl-front") -> bytes:
    """A v0 ApiVersions request (empty body): what the front asks the real broker."""
    return _i16(API_VERSIONS) + _i16(0) + _i32(correlation_id) + _nullable_string(client_id)


def decode_api_versions_response(payload: bytes) -> dict[int, tuple[int, int]]:
    """The api_keys of a v0 ApiVersions response (header v0)."""
    r = Reader(payload)
    r.int32()  # correlation id
    error = r.int16()
    if error != NONE:
        raise WireError(f"upstream ApiVersions error {error}")
    keys: dict[int, tuple[int, int]] = {}
    for _ in range(r.int32()):
        key, low, high = r.int16(), r.int16(), r.int16()
        keys[key] = (low, high)
    return keys


def encode_api_versions_response(
    correlation_id: int, version: int, api_keys: dict[int, tuple[int, int]], error: int = NONE
) -> bytes:
    """ApiVersions response at ``version``; its header is always v0 (KIP-511)."""
    entries = sorted(api_keys.items())
    if version >= 3:
        body = _i16(error) + _uvarint(len(entries) + 1)
        for key, (low, high) in entries:
            body += _i16(key) + _i16(low) + _i16(high) + NO_TAGS
        body += _i32(0) + NO_TAGS  # throttle_time_ms, no SupportedFeatures etc.
    else:
        body = _i16(error) + _i32(len(entries))
        for key, (low, high) in entries:
            body += _i16(key) + _i16(low) + _i16(high)
        if version >= 1:
            body += _i32(0)  # throttle_time_ms
    return _response(correlation_id, body, flexible_header=False)


# --- SaslHandshake -------------------------------------------------------------------
def parse_sasl_handshake_request(payload: bytes, header: RequestHeader) -> str:
    mechanism = Reader(payload, header.body_offset).nullable_string()
    if mechanism is None:
        raise WireError("SaslHandshake without a mechanism")
    return mechanism


def encode_sasl_handshake_response(correlation_id: int, error: int, mechanisms: list[str]) -> bytes:
    body = _i16(error) + _i32(len(mechanisms))
    for name in mechanisms:
        body += _nullable_string(name)
    return _response(correlation_id, body, flexible_header=False)


# --- SaslAuthenticate ----------------------------------------------------------------
def parse_sasl_authenticate_request(payload: bytes, header: RequestHeader) -> bytes:
    r = Reader(payload, header.body_offset)
    if header.api_version >= 2:
        auth = r.compact_bytes()
        r.skip_tagged_fields()
        return auth
    return r.bytes32()


def encode_sasl_authenticate_response(
    correlation_id: int,
    version: int,
    *,
    error: int = NONE,
    message: str | None = None,
    auth_bytes: bytes = b"",
    session_lifetime_ms: int = 0,
) -> bytes:
    if version >= 2:
        body = _i16(error) + _compact_nullable_string(message)
        body += _uvarint(len(auth_bytes) + 1) + auth_bytes
        body += struct.pack(">q", session_lifetime_ms) + NO_TAGS
        return _response(correlation_id, body, flexible_header=True)
    body = _i16(error) + _nullable_string(message) + _i32(len(auth_bytes)) + auth_bytes
    if version >= 1:
        body += struct.pack(">q", session_lifetime_ms)
    return _response(correlation_id, body, flexible_header=False)


# --- Produce: does this request expect a response? -----------------------------------
def produce_acks(payload: bytes, header: RequestHeader) -> int:
    """The ``acks`` of a Produce request: with acks=0 the broker sends no response."""
    r = Reader(payload, header.body_offset)
    if header.api_version >= 9:
        r.compact_nullable_string()  # transactional_id
    elif header.api_version >= 3:
        r.nullable_string()
    return r.int16()


# --- RFC 7628 client initial response, as OAuthBearerClientInitialResponse -----------
# Java regexes transcribed; re.ASCII because Java's \w is ASCII-only by default.
_SASLNAME = r"(?:[\x01-\x2b\x2d-\x3c\x3e-\x7f]|=2C|=3D)+"  # \x01-\x7F minus ',' and '='
_KEY = r"[A-Za-z]+"
_VALUE = r"[\x21-\x7e \t\r\n]+"
_SEP = "\x01"
_CLIENT_INITIAL_RESPONSE = re.compile(
    rf"n,(a=(?P<authzid>{_SASLNAME}))?,{_SEP}(?P<kvpairs>(?:{_KEY}={_VALUE}{_SEP})*){_SEP}",
    re.ASCII,
)
# Current Kafka accepts base64 and base64url token characters plus '=' padding.
_AUTH = re.compile(r"(?P<scheme>\w+)[ ]+(?P<token>[-_~+/.a-zA-Z0-9]+=*)", re.ASCII)
_EXTENSION_KEY = re.compile(_KEY, re.ASCII)
_EXTENSION_VALUE = re.compile(_VALUE, re.ASCII)


@dataclass(frozen=True)
class ClientInitialResponse:
    token: str = field(repr=False)
    authorization_id: str
    extensions: dict[str, str]


def parse_client_initial_response(data: bytes) -> ClientInitialResponse:
    """Parse ``n,[a=authzid],\\x01auth=Bearer <token>\\x01[k=v\\x01]...\\x01`` like Kafka."""
    # Java decodes with replacement characters; they then fail the ASCII-only patterns.
    message = data.decode("utf-8", errors="replace")
    match = _CLIENT_INITIAL_RESPONSE.fullmatch(message)
    if match is None:
        raise SaslError("Invalid OAUTHBEARER client first message")
    properties: dict[str, str] = {}
    # Utils.parseMap: split on \x01 (Java drops the trailing empty piece), then on the
    # first '='; a repeated key keeps its last value.
    for pair in filter(None, match["kvpairs"].split(_SEP)):
        key, value = pair.split("=", 1)
        properties[key] = value
    auth = properties.pop("auth", None)
    if auth is None:
        raise SaslError("Invalid OAUTHBEARER client first message: 'auth' not specified")
    for key, value in properties.items():
        if not _EXTENSION_KEY.fullmatch(key):
            raise SaslError(f"Extension name {key} is invalid")
        if not _EXTENSION_VALUE.fullmatch(value):
            raise SaslError(f"Extension value ({value}) for extension {key} is invalid")
    auth_match = _AUTH.fullmatch(auth)
    if auth_match is None:
        raise SaslError("Invalid OAUTHBEARER client first message: invalid 'auth' format")
    if auth_match["scheme"].lower() != "bearer":
        raise SaslError(f"Invalid scheme in OAUTHBEARER client first message: {auth_match[1]}")
    return ClientInitialResponse(auth_match["token"], match["authzid"] or "", properties)
