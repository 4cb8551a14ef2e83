"""The SASL front's Kafka codec (tests/support/kafka_wire.py): framing and RFC 7628."""

from __future__ import annotations

import struct

import pytest

from tests.support import kafka_wire as w

TOKEN = "eyJhbGciOiJub25lIn0.c3ViOmFsaWNl+Zm9v/YmFy_LXo~fQ=="


# --- RFC 7628 client initial response, as Kafka's OAuthBearerClientInitialResponse ----
def test_parses_librdkafkas_message_with_extensions() -> None:
    message = f"n,,\x01auth=Bearer {TOKEN}\x01logicalCluster=lkc-1\x01poolId=a=b\x01\x01"
    parsed = w.parse_client_initial_response(message.encode())
    assert parsed.token == TOKEN
    assert parsed.authorization_id == ""
    assert parsed.extensions == {"logicalCluster": "lkc-1", "poolId": "a=b"}


def test_authzid_scheme_case_and_spaces() -> None:
    parsed = w.parse_client_initial_response(b"n,a=alice=2Cx,\x01auth=BEARER   tok\x01\x01")
    assert parsed.token == "tok"
    assert parsed.authorization_id == "alice=2Cx"


def test_extension_order_is_free_and_last_duplicate_wins() -> None:
    parsed = w.parse_client_initial_response(b"n,,\x01a=1\x01auth=Bearer t\x01a=2\x01\x01")
    assert parsed.extensions == {"a": "2"}


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (b"n,,\x01auth=Bearer tok\x01", "first message"),  # missing final separator
        (b"y,,\x01auth=Bearer tok\x01\x01", "first message"),  # channel binding flag
        (b"n,,\x01\x01", "'auth' not specified"),
        (b"n,,\x01auth=Basic tok\x01\x01", "Invalid scheme"),
        (b"n,,\x01auth=Bearer tok=en\x01\x01", "invalid 'auth' format"),  # '=' only at end
        (b"n,,\x01auth=Bearer t\xc3\xa9\x01\x01", "first message"),  # non-ASCII value
        (b"n,,\x01auth=Bearer tok\x01k1=v\x01\x01", "first message"),  # key [A-Za-z]+
        (b"n,,\x01auth=Bearer tok\x01k=\x00\x01\x01", "first message"),  # control char
        (b"n,,\x01auth=Bearer tok\x01k=\x01\x01", "first message"),  # empty value
        (b"n,a=x,y,\x01auth=Bearer tok\x01\x01", "first message"),  # ',' in authzid
        (b"n,,\x01auth=Bearer \x01\x01", "invalid 'auth' format"),
    ],
)
def test_rejects_what_kafka_rejects(message: bytes, reason: str) -> None:
    with pytest.raises(w.SaslError, match=reason):
        w.parse_client_initial_response(message)


@pytest.mark.parametrize("token", ["a", "A-_~+/.9", "abc==", "x=", TOKEN])
def test_accepts_kafkas_token_alphabet(token: str) -> None:
    parsed = w.parse_client_initial_response(f"n,,\x01auth=Bearer {token}\x01\x01".encode())
    assert parsed.token == token


# --- framing and headers --------------------------------------------------------------
def test_frame_prefixes_the_size() -> None:
    assert w.frame(b"abc") == b"\x00\x00\x00\x03abc"


def _header(api_key: int, version: int, correlation_id: int, client_id: bytes) -> bytes:
    return struct.pack(">hhih", api_key, version, correlation_id, len(client_id)) + client_id


def test_request_header_v1_and_v2() -> None:
    v1 = w.parse_request_header(_header(w.SASL_AUTHENTICATE, 1, 9, b"rdkafka") + b"BODY")
    assert (v1.api_key, v1.api_version, v1.correlation_id) == (w.SASL_AUTHENTICATE, 1, 9)
    assert (v1.client_id, v1.body_offset) == ("rdkafka", 17)
    # Flexible (v2): one tagged field (tag 0, 2 bytes) after the client id.
    raw = _header(w.SASL_AUTHENTICATE, 2, 10, b"c") + b"\x01\x00\x02zz" + b"BODY"
    v2 = w.parse_request_header(raw)
    assert raw[v2.body_offset :] == b"BODY"


def test_truncated_header_is_a_wire_error() -> None:
    with pytest.raises(w.WireError):
        w.parse_request_header(b"\x00\x12\x00")


def test_uvarint_multibyte() -> None:
    assert w.Reader(b"\xac\x02").uvarint() == 300


# --- ApiVersions ------------------------------------------------------------------------
KEYS = {0: (0, 11), 17: (0, 1), 18: (0, 3), 36: (0, 2)}


def test_api_versions_v0_and_v1_layouts() -> None:
    v0 = w.encode_api_versions_response(5, 0, KEYS)
    assert w.decode_api_versions_response(v0) == KEYS
    v1 = w.encode_api_versions_response(5, 1, KEYS)
    assert v1 == v0 + b"\x00\x00\x00\x00"  # plus throttle_time_ms


def test_api_versions_v3_is_compact_with_tagged_fields_and_header_v0() -> None:
    r = w.Reader(w.encode_api_versions_response(5, 3, {18: (0, 3)}))
    assert r.int32() == 5  # header v0: no tagged fields even at v3 (KIP-511)
    assert r.int16() == 0
    assert r.uvarint() == 2  # compact array: length + 1
    assert (r.int16(), r.int16(), r.int16()) == (18, 0, 3)
    r.skip_tagged_fields()
    assert r.int32() == 0
    r.skip_tagged_fields()
    assert r.rest() == b""


# --- SaslHandshake / SaslAuthenticate ------------------------------------------------
def test_sasl_handshake_request_and_response() -> None:
    payload = _header(w.SASL_HANDSHAKE, 1, 1, b"c") + b"\x00\x0bOAUTHBEARER"
    assert w.parse_sasl_handshake_request(payload, w.parse_request_header(payload)) == (
        "OAUTHBEARER"
    )
    response = w.encode_sasl_handshake_response(1, w.UNSUPPORTED_SASL_MECHANISM, ["OAUTHBEARER"])
    assert response == b"\x00\x00\x00\x01\x00\x21\x00\x00\x00\x01\x00\x0bOAUTHBEARER"


@pytest.mark.parametrize("version", [0, 1])
def test_sasl_authenticate_request_v0_v1(version: int) -> None:
    payload = _header(w.SASL_AUTHENTICATE, version, 2, b"c") + b"\x00\x00\x00\x03abc"
    assert w.parse_sasl_authenticate_request(payload, w.parse_request_header(payload)) == b"abc"


def test_sasl_authenticate_request_v2() -> None:
    payload = _header(w.SASL_AUTHENTICATE, 2, 2, b"c") + b"\x00" + b"\x04abc" + b"\x00"
    assert w.parse_sasl_authenticate_request(payload, w.parse_request_header(payload)) == b"abc"


def test_sasl_authenticate_responses() -> None:
    v0 = w.encode_sasl_authenticate_response(7, 0, error=58, message="no", auth_bytes=b"x")
    assert v0 == b"\x00\x00\x00\x07" + b"\x00\x3a" + b"\x00\x02no" + b"\x00\x00\x00\x01x"
    v1 = w.encode_sasl_authenticate_response(7, 1, session_lifetime_ms=1000)
    assert v1 == b"\x00\x00\x00\x07\x00\x00\xff\xff\x00\x00\x00\x00" + struct.pack(">q", 1000)
    v2 = w.encode_sasl_authenticate_response(7, 2, auth_bytes=b"x", session_lifetime_ms=5)
    # header v1 (tagged fields), null compact string, compact bytes, int64, tagged fields
    assert v2 == b"\x00\x00\x00\x07\x00" + b"\x00\x00" + b"\x00" + b"\x02x" + (
        struct.pack(">q", 5) + b"\x00"
    )


# --- Produce acks (acks=0 has no response) ---------------------------------------------
@pytest.mark.parametrize(
    ("version", "prefix"),
    [(2, b""), (3, b"\xff\xff"), (8, b"\x00\x02tx"), (9, b"\x00"), (11, b"\x03tx")],
)
def test_produce_acks(version: int, prefix: bytes) -> None:
    tags = b"\x00" if version >= 9 else b""
    payload = _header(w.PRODUCE, version, 3, b"c") + tags + prefix + b"\x00\x00rest"
    assert w.produce_acks(payload, w.parse_request_header(payload)) == 0
