"""Reading a ``--config`` file: YAML or JSON, strictly, with errors that name the file and the line.

JSON is read as YAML (YAML 1.2 is a superset of it). Stricter than
``yaml.safe_load``: a key given twice in one mapping is an error (YAML's
default keeps the last one silently, so a forgotten override wins unseen), the
file must be UTF-8 text and must hold a mapping.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError


class _StrictLoader(yaml.SafeLoader):
    """``SafeLoader`` that refuses a key given twice in one mapping."""


def _mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: dict[Any, yaml.Node] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            first = seen[key].start_mark.line + 1
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} appears twice (first on line {first}); keep one", key_node.start_mark
            )
        seen[key] = key_node
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass


def read_config_file(path: Path) -> dict[str, Any]:
    """The mapping in ``path``, or a ``ConfigError`` naming the file, the place and the fix."""
    if not path.exists():
        raise ConfigError(f"--config {path}: no such file; check the path")
    if path.is_dir():
        raise ConfigError(f"--config {path}: is a folder; give a YAML or JSON file inside it")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"--config {path}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); save it as UTF-8"
        ) from None
    try:
        data = load_yaml(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        problem = exc.problem or exc.context or "unreadable"
        raise ConfigError(f"--config {path}: {where}: {problem}; fix the YAML (or JSON) there") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"--config {path}: not valid YAML or JSON ({exc}); fix the file") from None
    if not isinstance(data, dict):
        raise ConfigError(f"--config {path}: must hold a mapping (model: ..., data: ...), got {type(data).__name__}")
    return data
