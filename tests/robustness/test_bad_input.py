"""Bad input, property-based: the form parser, the Authorization parser, the endpoint.

Hypothesis invents bodies, headers and tokens; each property states what must hold for
*every* input, not for a hand-picked few (the single cases live in tests/unit/sidecar).
"""

from __future__ import annotations

import base64
import string
from urllib.parse import quote

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from oauthbearer._secret import Secret
from oauthbearer.sidecar import request
from oauthbearer.sidecar.callers import CallerAuthenticator
from oauthbearer.sidecar.request import MalformedRequest, looks_like_token, parse_token
from tests.robustness.conftest import GOOD_OPAQUE, SyncSidecar, assert_contract
from tests.unit.sidecar.conftest import CALLER_ID, CALLER_SECRET

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Kafka's own token check: [-_~+/.a-zA-Z0-9]+=* (CONTRACT.md §5).
KAFKA_TOKEN = st.builds(
    str.__add__,
    st.text(string.ascii_letters + string.digits + "-_~+/.", min_size=1, max_size=200),
    st.sampled_from(["", "=", "=="]),
)
NAMES = ("token",)


# --- the form parser -----------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=2048))
def test_parse_token_returns_a_token_or_refuses_never_anything_else(body: bytes) -> None:
    try:
        token = parse_token(body, NAMES)
    except MalformedRequest:
        return
    assert isinstance(token, str)
    assert token


@FUZZ
@given(
    token=KAFKA_TOKEN,
    others=st.lists(
        st.tuples(
            st.sampled_from(["token_type_hint", "client_id", "x", "tokens", "Token"]),
            st.text(string.ascii_letters + string.digits + "%+/=", max_size=20),
        ),
        max_size=4,
    ),
    position=st.integers(min_value=0, max_value=4),
    encode=st.booleans(),
)
def test_any_kafka_token_round_trips_raw_or_encoded_among_other_params(
    token: str, others: list[tuple[str, str]], position: int, encode: bool
) -> None:
    # jairsjunior writes the token raw, Strimzi URL-encodes it: both must give it back.
    value = quote(token, safe="") if encode else token
    parts = [f"{name}={quote(v, safe='') if encode else v.replace('&', '')}" for name, v in others]
    parts.insert(min(position, len(parts)), f"token={value}")
    assert parse_token("&".join(parts).encode(), NAMES) == token


def _general(text: str, names: tuple[str, ...]) -> str | None:
    try:
        return request._parse_parameters(text, names)
    except MalformedRequest:
        return None


def _parsed(body: bytes, names: tuple[str, ...]) -> str | None:
    try:
        return parse_token(body, names)
    except MalformedRequest:
        return None


@FUZZ
@given(
    st.lists(
        st.sampled_from(
            ["token", "access_token", "Token", "=", "&", "%", "%74", " ", "\t", "\r\n", "x"]
        ),
        max_size=8,
    ).map("".join),
    st.sampled_from([("token",), ("token", "access_token"), ("access_token",)]),
)
@example("token =x", ("token",))
@example("token= x\u00a0", ("token",))
@example(" access_token=x ", ("token", "access_token"))
@example("token=", ("token",))
@example("=x", ("token",))
def test_the_one_parameter_shortcut_decides_as_the_general_parser(
    text: str, names: tuple[str, ...]
) -> None:
    # parse_token takes a shortcut for a body without "&" and "%": it must answer as the
    # general parser does for every body, whichever way it goes.
    assert _parsed(text.encode(), names) == _general(text, names)


@FUZZ
@given(first=KAFKA_TOKEN, second=KAFKA_TOKEN, aliases=st.booleans())
def test_duplicate_token_parameters_are_refused(first: str, second: str, aliases: bool) -> None:
    names = ("token", "access_token") if aliases else NAMES
    other = "access_token" if aliases else "token"
    body = f"token={first}&{other}={second}".encode()
    try:
        parse_token(body, names)
    except MalformedRequest:
        return
    raise AssertionError("two tokens accepted")


@FUZZ
@given(st.text(max_size=300))
def test_only_kafka_shaped_tokens_look_like_tokens(text: str) -> None:
    shaped = (
        bool(text)
        and text.rstrip("=") != ""
        and all(c in string.ascii_letters + string.digits + "-_~+/." for c in text.rstrip("="))
    )
    assert looks_like_token(text) == shaped


# --- the Authorization header parser -------------------------------------------------

AUTHENTICATOR = CallerAuthenticator(
    callers=Secret(f"{CALLER_ID}:{CALLER_SECRET},other:other-fake-secret"),
    bearer_tokens=Secret("bearer-broker:fake-static-bearer-token"),
)


@FUZZ
@given(st.text(max_size=300))
def test_any_header_is_a_known_caller_or_refused(header: str) -> None:
    assert AUTHENTICATOR.authenticate(header) in {None, CALLER_ID, "other", "bearer-broker"}


@FUZZ
@given(st.binary(max_size=120), st.sampled_from(["Basic", "basic", "BASIC", "Bearer"]))
def test_any_credentials_blob_is_refused_unless_exact(blob: bytes, scheme: str) -> None:
    header = f"{scheme} {base64.b64encode(blob).decode()}"
    caller = AUTHENTICATOR.authenticate(header)
    expected = {f"{CALLER_ID}:{CALLER_SECRET}".encode(): CALLER_ID}
    if scheme.lower() == "basic":
        assert caller == expected.get(blob)
    else:
        assert caller is None


@FUZZ
@given(
    urlsafe=st.booleans(),
    strip_padding=st.booleans(),
    scheme=st.sampled_from(["Basic", "basic", "BASIC", "bAsIc"]),
    spaces=st.sampled_from(["", " ", "  ", "\t"]),
)
def test_the_real_credentials_pass_in_every_accepted_spelling(
    urlsafe: bool, strip_padding: bool, scheme: str, spaces: str
) -> None:
    raw = f"{CALLER_ID}:{CALLER_SECRET}".encode()
    encoded = (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(raw).decode()
    if strip_padding:
        encoded = encoded.rstrip("=")
    assert AUTHENTICATOR.authenticate(f"{spaces}{scheme} {encoded}{spaces}") == CALLER_ID


@FUZZ
@given(
    st.integers(min_value=0, max_value=len(CALLER_SECRET) - 1),
    st.characters(exclude_categories=["Cs"]),  # lone surrogates cannot be UTF-8 encoded
)
def test_any_one_character_change_of_the_secret_is_refused(index: int, char: str) -> None:
    secret = CALLER_SECRET[:index] + char + CALLER_SECRET[index + 1 :]
    raw = f"{CALLER_ID}:{secret}".encode()
    caller = AUTHENTICATOR.authenticate("Basic " + base64.b64encode(raw).decode())
    assert caller == (CALLER_ID if secret == CALLER_SECRET else None)


# --- the endpoint ---------------------------------------------------------------------

HEADER_VALUES = st.one_of(
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=80),
    st.sampled_from(["", "application/x-www-form-urlencoded", "application/json", "text/plain"]),
)


@FUZZ
@given(
    body=st.one_of(
        st.binary(max_size=1024),
        KAFKA_TOKEN.map(lambda t: f"token={t}".encode()),
        st.text(max_size=400).map(lambda t: f"token={t}".encode("utf-8", "surrogatepass")),
    ),
    content_type=HEADER_VALUES,
    authorization=st.one_of(st.none(), HEADER_VALUES),
    path=st.sampled_from(["/oauth2/introspect", "/oauth2/introspect/jairsjunior-ms"]),
)
def test_endpoint_answers_every_request_within_the_contract(
    sidecar: SyncSidecar,
    body: bytes,
    content_type: str,
    authorization: str | None,
    path: str,
) -> None:
    headers = {"Content-Type": content_type}
    if authorization is not None:
        headers["Authorization"] = authorization
    response = sidecar.post(body, headers=headers, path=path)
    answer = assert_contract(response)
    if answer.get("active") is True:
        # Only a token the upstream vouches for, sent by an authenticated caller.
        assert authorization is not None
        assert parse_token(body, NAMES) in GOOD_OPAQUE


@FUZZ
@given(token=st.one_of(st.text(min_size=1, max_size=500), st.sampled_from(sorted(GOOD_OPAQUE))))
def test_no_invented_token_is_ever_active(sidecar: SyncSidecar, token: str) -> None:
    body = ("token=" + quote(token, safe="")).encode("utf-8", "surrogatepass")
    answer = assert_contract(sidecar.post(body))
    assert (answer.get("active") is True) == (token in GOOD_OPAQUE)


def test_oversized_bodies_and_tokens(sidecar: SyncSidecar) -> None:
    limit = 16_384
    over = sidecar.post(b"token=" + b"a" * limit)
    assert over.status_code == 413
    assert_contract(over)
    # The largest token that fits is judged (inactive), not refused and not crashed on.
    fits = sidecar.post(b"token=" + b"a" * (limit - 6))
    assert assert_contract(fits) == {"active": False}
    # A declared length over the limit is refused before reading.
    lying = sidecar.post(b"token=x", headers={"Content-Length": str(limit * 4)})
    assert lying.status_code in {400, 413}


def test_non_utf8_and_duplicates_are_400(sidecar: SyncSidecar) -> None:
    for body in (b"token=\xff\xfe", b"token=abc&token=abc", b"token=", b"", b"\x00" * 32):
        response = sidecar.post(body)
        assert response.status_code == 400, body
        assert assert_contract(response) == {"error": "invalid_request"}
    good = next(iter(sorted(GOOD_OPAQUE)))
    dup = sidecar.post(f"token={quote(good, safe='')}&token={quote(good, safe='')}".encode())
    assert dup.status_code == 400
