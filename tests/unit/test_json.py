"""oauthbearer._json: orjson's speed, the standard library's answers."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oauthbearer import _json
from oauthbearer.verify.compact import b64url_json

_STDLIB_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)

# JSON values as an identity provider's claims hold them (no NaN, no lone surrogates).
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.characters(exclude_categories=["Cs"]))
)
_values = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@given(_values)
def test_reads_and_writes_what_the_standard_library_does(value: Any) -> None:
    text = _STDLIB_COMPACT.encode(value).encode("utf-8")
    assert _json.loads(text) == json.loads(text)
    # The same value; a float may be spelled otherwise (orjson: 6.2e-8, json: 6.2e-08).
    assert json.loads(_json.dumps(value)) == json.loads(text)


def test_writes_an_answer_byte_for_byte_as_the_standard_library_does() -> None:
    answer = {"active": True, "sub": "orders", "aud": ["urn:kafka"], "exp": 2000, "n": None}
    answer |= {"name": "Zoë", "scope": "kafka produce", "iat": 1000, "ratio": 0.25}
    assert _json.dumps(answer) == _STDLIB_COMPACT.encode(answer).encode("utf-8")


def test_integers_beyond_64_bits_stay_integers() -> None:
    # orjson alone reads them as floats: a passed-through claim would change.
    claims = _json.loads(b'{"id": 123456789012345678901234, "exp": 2000}')
    assert claims == {"id": 123456789012345678901234, "exp": 2000}
    assert _json.dumps(claims) == b'{"id":123456789012345678901234,"exp":2000}'


@pytest.mark.parametrize(
    "text",
    [
        b'{"exp": NaN}',
        b'{"exp": Infinity}',
        b'{"sub": "\\ud800"}',  # a lone surrogate cannot be written back as UTF-8
        b'{"id": 123456789012345678901234, "exp": -Infinity}',
        b'{"id": 123456789012345678901234, "sub": "\\udfff"}',
        b"\xef\xbb\xbf{}",
        b'{"sub": "\xff"}',
        b'{"a": 1',
    ],
)
def test_what_rfc_8259_refuses_is_refused_on_both_paths(text: bytes) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each decoder words it its own way
        _json.loads(text)


def test_a_duplicated_name_keeps_its_last_value_on_both_paths() -> None:
    # RFC 7519 §4: reject, or use the lexically last member; both decoders keep the last.
    assert _json.loads(b'{"sub": "a", "sub": "b"}') == {"sub": "b"}
    assert _json.loads(b'{"n": 123456789012345678901234, "sub": "a", "sub": "b"}')["sub"] == "b"


def test_nesting_too_deep_is_a_value_error_on_the_standard_library_path_too() -> None:
    # A run of 20 digits sends the document to json.loads, which raises RecursionError
    # where orjson raises ValueError; a JWT header decoded this way reached the request
    # handler as an unexpected error (a 500, not an inactive answer).
    deep = b"[" * 5000 + b"12345678901234567890123"
    for document in (deep, b"[" * 5000 + b"1"):  # stdlib path, orjson path
        with pytest.raises(ValueError, match=r"nested too deeply|depth limit"):
            _json.loads(document)
    segment = base64.urlsafe_b64encode(deep).rstrip(b"=").decode()
    assert b64url_json(segment) is None
