"""The architecture's one hard rule: the client and sidecar halves never import each other,
and the shared verification package imports neither. Read from the source, so a lazy
import inside a function counts too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "oauthbearer"

FORBIDDEN = {
    "client": ("oauthbearer.sidecar",),
    "sidecar": ("oauthbearer.client",),
    "verify": ("oauthbearer.client", "oauthbearer.sidecar"),
}


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


@pytest.mark.parametrize("half", sorted(FORBIDDEN))
def test_half_never_imports_the_other(half: str) -> None:
    files = sorted((PACKAGE / half).rglob("*.py"))
    assert files, f"no modules found under oauthbearer/{half}"
    offending = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in files
        for name in _imports(path)
        if name.startswith(FORBIDDEN[half])
    ]
    assert offending == []


def test_the_check_sees_lazy_imports(tmp_path: Path) -> None:
    module = tmp_path / "lazy.py"
    module.write_text("def f():\n    from oauthbearer.client.confluent import oauth_cb\n")
    assert _imports(module) == ["oauthbearer.client.confluent"]
