"""Registered components by name: look one up, validate its config, build it.

The registry layer; the zoo (``pretrained``) builds on it, and ``api`` gives
users one door to both.
"""

from __future__ import annotations

from typing import Any

from . import plugin_manager
from .config import validate
from .errors import ConfigError
from .registry import Entry


def registry():
    return plugin_manager.host().registry


def get(kind: str, name: str) -> Entry:
    """The registry entry of ``kind`` called ``name`` (short or ``plugin:name``)."""
    return registry().get(kind, name)


def config_class(kind: str, name: str):
    """The pydantic config class of a component, or ``None`` when it takes no options."""
    return getattr(get(kind, name).load(), "Config", None)


def make_config(kind: str, name: str, values: dict[str, Any] | None = None, fill: dict[str, Any] | None = None):
    """Validate ``values`` against the component's config; errors name the key.

    ``fill`` supplies values the data knows (``input_shape``, ``num_classes``)
    for the config's fields that ``values`` leaves unset or ``None``.
    """
    target = get(kind, name).load()
    cls = getattr(target, "Config", None)
    if cls is None:
        if values:
            raise ConfigError(f"{kind} {name!r} takes no options, got: {', '.join(sorted(values))}")
        return None
    values = dict(values or {})
    for key, value in (fill or {}).items():
        if key in cls.model_fields and values.get(key) is None:
            values[key] = value
    section = {"dataset": "data"}.get(kind, kind)  # where its options sit in a run config
    return validate(cls, values, f"{kind} {name!r}", section)


def create(kind: str, name: str, **overrides: Any) -> Any:
    """A ready-to-use loss, metric, relaxation or dataset.

    A target with a ``Config`` is built as ``target(config)``; a plain callable
    without one (a loss written as a function, say) is returned as it is.
    """
    if kind in {"optimiser", "scheduler"}:
        raise ValueError(f"use dpzoo.create_{kind}(...) to build a {kind}: it needs parameters")
    target = get(kind, name).load()
    config = make_config(kind, name, overrides)
    return target if config is None else target(config)


def create_optimiser(name: str, params, **overrides: Any):
    """A ``torch.optim.Optimizer`` over ``params`` from a registered factory."""
    factory = get("optimiser", name).load()
    return factory(params, make_config("optimiser", name, overrides))


def create_scheduler(name: str, optimizer, total_steps: int, **overrides: Any):
    """A learning-rate scheduler for ``optimizer`` from a registered factory."""
    factory = get("scheduler", name).load()
    return factory(optimizer, make_config("scheduler", name, overrides), total_steps)
