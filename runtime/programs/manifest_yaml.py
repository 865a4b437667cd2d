"""Reading manifest YAML the way `kubectl` hands it to the API server.

Two differences from `yaml.safe_load`: unquoted dates and timestamps stay strings (the API
server sees JSON text, and the spec's dates are written as text), and a key repeated in one
mapping is an error instead of silently keeping the last value.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode

_TIMESTAMP = "tag:yaml.org,2002:timestamp"


class KubernetesYamlLoader(yaml.SafeLoader):
    """SafeLoader without timestamp resolution and with duplicate-key detection."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key {key!r}",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


KubernetesYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _TIMESTAMP]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_documents(text: str) -> list[Any]:
    """Every document in `text` (empty ones as None); `yaml.YAMLError` on bad YAML."""
    return list(yaml.load_all(text, Loader=KubernetesYamlLoader))
