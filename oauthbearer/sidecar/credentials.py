"""``id:secret`` credential lists, as the callers' variables hold them."""

from __future__ import annotations

from oauthbearer.errors import ConfigurationError

__all__ = ["parse_credentials"]


def parse_credentials(variable: str, raw: str) -> dict[str, str]:
    """Parse ``id:secret`` pairs separated by commas or newlines.

    Errors name the variable and the entry's position, never its content (it holds a
    secret).

    Example:
        >>> parse_credentials("OAUTHBEARER_CALLERS", "a:x, b:y:z")
        {'a': 'x', 'b': 'y:z'}
    """
    pairs: dict[str, str] = {}
    entries = [e.strip() for e in raw.replace("\n", ",").split(",")]
    for position, entry in enumerate((e for e in entries if e), start=1):
        ident, sep, secret = entry.partition(":")
        ident = ident.strip()
        if not sep or not ident or not secret:
            raise ConfigurationError(
                variable, f"entry {position} must be id:secret with both parts non-empty"
            )
        if ident in pairs:
            raise ConfigurationError(variable, f"caller id {ident!r} appears twice")
        pairs[ident] = secret
    if not pairs:
        # "," or a file of blank lines: taken as a table, it let `check` pass the "no
        # callers" rule while serve refused every broker.
        raise ConfigurationError(variable, "holds no id:secret entry")
    return pairs
