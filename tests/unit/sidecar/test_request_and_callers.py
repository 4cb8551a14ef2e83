"""The body parser (both peers' encodings) and caller authentication (both base64 alphabets)."""

from __future__ import annotations

import base64
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oauthbearer._secret import FileSecret, Secret
from oauthbearer.sidecar.callers import ANONYMOUS, CallerAuthenticator
from oauthbearer.sidecar.request import MalformedRequest, looks_like_token, parse_token
from tests.unit.sidecar.conftest import basic

# Kafka's token alphabet: [-_~+/.a-zA-Z0-9]+=*
TOKENS = st.builds(
    lambda body, pad: body + "=" * pad,
    st.text(
        alphabet="-_~+/.abcXYZ0189",
        min_size=1,
        max_size=200,
    ),
    st.integers(0, 2),
)


@given(TOKENS)
def test_raw_and_urlencoded_bodies_give_the_same_token(token: str) -> None:
    raw = b"token=" + token.encode()  # jairsjunior
    encoded = b"token=" + quote(token, safe="").encode()  # Strimzi
    assert parse_token(raw, ("token",)) == token
    assert parse_token(encoded, ("token",)) == token
    assert looks_like_token(token)


def test_plus_survives_and_hint_ignored() -> None:
    body = b"token_type_hint=access_token&token=a+b/c=="
    assert parse_token(body, ("token",)) == "a+b/c=="


def test_configured_aliases() -> None:
    assert parse_token(b"access_token=abc", ("token", "access_token")) == "abc"
    with pytest.raises(MalformedRequest, match="more than once"):
        parse_token(b"token=a&access_token=b", ("token", "access_token"))


@pytest.mark.parametrize(
    "body", [b"", b"token", b"token=", b"other=x", b"token=a&token=a", b"token=\xff"]
)
def test_malformed(body: bytes) -> None:
    with pytest.raises(MalformedRequest):
        parse_token(body, ("token",))


@pytest.mark.parametrize("token", ["a b", "abc%", "tok\nen", "=abc", "é"])
def test_not_token_shaped(token: str) -> None:
    assert not looks_like_token(token)


# --- callers ------------------------------------------------------------------------------

IDENT, SECRET = "broker", "fake>>secret??~~"


@pytest.fixture
def auth() -> CallerAuthenticator:
    return CallerAuthenticator(Secret(f"{IDENT}:{SECRET},other:fake-other"))


def test_standard_and_urlsafe_alphabets(auth: CallerAuthenticator) -> None:
    standard, urlsafe = basic(IDENT, SECRET), basic(IDENT, SECRET, urlsafe=True)
    assert standard != urlsafe
    assert auth.authenticate(standard) == IDENT
    assert auth.authenticate(urlsafe) == IDENT
    assert auth.authenticate(urlsafe.rstrip("=")) == IDENT  # padding optional
    assert auth.authenticate("basic " + standard.split()[1]) == IDENT  # scheme any case


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "   ",
        basic(IDENT, SECRET + "x"),
        basic(IDENT, SECRET[:-1]),
        basic("nobody", SECRET),
        basic("other", SECRET),
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic ***",
        "Basic é",
        "Bearer whatever",
    ],
)
def test_refused(auth: CallerAuthenticator, header: str | None) -> None:
    assert auth.authenticate(header) is None


def test_anonymous_only_when_allowed() -> None:
    closed = CallerAuthenticator(Secret("a:b"))
    opened = CallerAuthenticator(allow_anonymous=True)
    assert closed.authenticate(None) is None
    assert opened.authenticate(None) == ANONYMOUS
    assert opened.authenticate("") == ANONYMOUS
    assert opened.authenticate(basic("a", "b")) is None  # presented, unknown: refused


def test_bearer_tokens() -> None:
    auth = CallerAuthenticator(bearer_tokens=Secret("strimzi:fake-bearer-1,other:fake-bearer-2"))
    assert auth.authenticate("Bearer fake-bearer-2") == "other"
    assert auth.authenticate("Bearer fake-bearer-3") is None
    assert auth.authenticate(basic("strimzi", "fake-bearer-1")) is None


def test_callers_file_rotates_without_restart(tmp_path: Path) -> None:
    path = tmp_path / "callers"
    path.write_text("broker:fake-one\n")
    auth = CallerAuthenticator(FileSecret(path))
    assert auth.authenticate(basic("broker", "fake-one")) == "broker"
    path.write_text("broker:fake-two-rotated\n")
    assert auth.authenticate(basic("broker", "fake-two-rotated")) == "broker"
    assert auth.authenticate(basic("broker", "fake-one")) is None


def test_only_ascii_whitespace_is_trimmed_from_the_token() -> None:
    # str.strip() took the non-breaking space off: the token judged was not the one sent.
    assert parse_token("token=\u00a0abc".encode(), ("token",)) == "\u00a0abc"
    assert parse_token(b"token=abc\r\n", ("token",)) == "abc"
