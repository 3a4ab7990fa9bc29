"""Pydantic configs: every component documents itself through one.

A misspelt key is an error that names it and the closest valid key; values
given on the command line (``--set model.hidden=[128,64]``) are parsed as YAML.
"""

from __future__ import annotations

from types import UnionType
from typing import Any, TypeVar, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import ConfigError, closest

M = TypeVar("M", bound=BaseModel)


class Config(BaseModel):
    """Base class for component configs: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=())


def validate(cls: type[M], values: dict[str, Any] | BaseModel | None, what: str, section: str = "") -> M:
    """``cls(**values)`` with an error that names ``what`` and the offending key.

    ``section`` is where these values sit in a run config (``model``), for the fixes the error suggests.
    """
    if isinstance(values, cls):
        return values
    if isinstance(values, BaseModel):
        values = values.model_dump()
    try:
        return cls.model_validate(values or {})
    except ValidationError as exc:
        raise ConfigError(describe(exc, cls, what, section)) from None


def describe(exc: ValidationError, cls: type[BaseModel], what: str, section: str = "") -> str:
    """One line per problem: ``what.key: problem (did you mean ...?)``."""
    lines = []
    for err in exc.errors():
        key = ".".join(str(part) for part in err["loc"])
        where = key or "(top level)"
        if err["type"] == "extra_forbidden":
            options = sorted(_fields_at(cls, err["loc"][:-1]))
            near = closest(str(err["loc"][-1]), options, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            lines.append(f"{where}: unknown option{hint}; valid options: {', '.join(options) or 'none'}")
        elif err["type"] == "list_type" and _is_scalar(err.get("input")):
            value = err["input"]
            lines.append(
                f"{where}: a list is expected, got the single value {value!r}; "
                f"write it in brackets: --set {section + '.' if section else ''}{key}=[{_as_typed(value)}]"
            )
        else:
            lines.append(f"{where}: {err['msg']} (got {err.get('input')!r})")
    return f"invalid config for {what}:\n  " + "\n  ".join(lines)


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (bool, int, float, str))


def _as_typed(value: Any) -> str:
    """``value`` as one would type it after ``--set KEY=``."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _fields_at(cls: type[BaseModel], loc: tuple) -> list[str]:
    """The valid keys at ``loc`` inside ``cls``, looking through ``X | None`` and ``dict[str, X]`` fields."""
    parts = list(loc)
    while parts:
        field = cls.model_fields.get(str(parts.pop(0)))
        annotation = _without_none(getattr(field, "annotation", None))
        if get_origin(annotation) is dict and parts:  # trainer.schedules.<name>: the next part is a key
            parts.pop(0)
            annotation = _without_none(get_args(annotation)[1])
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            cls = annotation
        else:
            return []
    return list(cls.model_fields)


def _without_none(annotation: Any) -> Any:
    args = [a for a in get_args(annotation) if a is not type(None)]
    return args[0] if get_origin(annotation) in (Union, UnionType) and len(args) == 1 else annotation


def parse_value(text: str) -> Any:
    """A command-line value: YAML, so ``3``, ``1e-3``, ``[128,64]``, ``null`` and ``true`` work."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def parse_assignments(assignments: list[str]) -> dict[str, Any]:
    """``["model.hidden=[128,64]", "trainer.epochs=3"]`` -> nested dict."""
    out: dict[str, Any] = {}
    for item in assignments:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        set_path(out, key.strip(), parse_value(value))
    return out


def set_path(tree: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = tree
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"cannot set {dotted!r}: {part!r} is {child!r}, not a section")
        node = child
    node[parts[-1]] = value


def merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """A new dict: ``update`` merged into ``base``, section by section."""
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out
