"""Java ``.properties`` files read the way Kafka reads ``server.properties`` (test infra).

The subset of ``java.util.Properties.load`` that configuration files use: ``#``/``!``
comments, ``key=value`` or ``key: value``, a trailing backslash continuing a value on the
next line (whose leading blanks are dropped). Escapes other than the line continuation
are not needed by any file we ship, and are refused rather than misread.

Example:
    >>> parse_properties('# c\\na=1\\nb.c = x \\\\\\n    y ;\\n')
    {'a': '1', 'b.c': 'x y ;'}
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["parse_properties", "read_env_file", "read_properties"]


def parse_properties(text: str) -> dict[str, str]:
    """``key → value`` of a properties text, in file order."""
    out: dict[str, str] = {}
    logical = ""
    for raw in text.splitlines():
        line = raw.lstrip() if logical else raw.strip()
        if not logical and (not line or line[0] in "#!"):
            continue
        trailing = len(line) - len(line.rstrip("\\"))
        if trailing % 2:  # an odd number of backslashes: the value goes on
            logical += line[:-1]
            continue
        logical += line
        key, value = _split(logical)
        out[key] = value
        logical = ""
    if logical:
        key, value = _split(logical)
        out[key] = value
    return out


def _split(line: str) -> tuple[str, str]:
    positions = [i for i in (line.find("="), line.find(":")) if i >= 0]
    if not positions:
        raise ValueError(f"not a key=value line: {line[:40]!r}")
    at = min(positions)
    key, value = line[:at].strip(), line[at + 1 :].strip()
    if "\\" in key or "\\" in value:
        raise ValueError(f"escapes are not supported here: {key!r}")
    return key, value


def read_properties(path: Path) -> dict[str, str]:
    """:func:`parse_properties` of a file."""
    return parse_properties(path.read_text())


def read_env_file(path: Path) -> dict[str, str]:
    """``NAME=value`` lines of an env file (``#`` comments, no quoting), as compose reads them."""
    out: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            out[name.strip()] = value
    return out
