"""YAML loading that refuses a key given twice in one mapping.

PyYAML keeps the last of two equal keys without a word, while ``kubectl apply`` (strict
field validation) refuses such a manifest: the tests must see what the cluster sees.

Example:
    >>> load_all("a: 1\\nb: 2\\n")
    [{'a': 1, 'b': 2}]
    >>> load_all("a: 1\\na: 2\\n")
    Traceback (most recent call last):
    ...
    ValueError: key 'a' given twice (line 2)
"""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["load", "load_all"]


class _StrictLoader(yaml.SafeLoader):
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # "<<: *anchor": its keys may be overridden, that is its point
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise ValueError(f"key {key!r} given twice (line {key_node.start_mark.line + 1})")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load(text: str) -> Any:
    """The one document in ``text``."""
    return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass


def load_all(text: str) -> list[Any]:
    """Every document in ``text``."""
    return list(yaml.load_all(text, Loader=_StrictLoader))
