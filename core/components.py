"""Build registered components by name: the functions users call."""

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


def make_config(kind: str, name: str, values: dict[str, Any] | None = None):
    """Validate ``values`` against the component's config; errors name the key."""
    target = get(kind, name).load()
    cls = getattr(target, "Config", None)
    if cls is None:
        if values:
            raise ConfigError(f"{kind} {name!r} takes no options, got: {', '.join(sorted(values))}")
        return None
    return validate(cls, values or {}, f"{kind} {name!r}")


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


def create_model(name: str, pretrained: bool | str = False, **overrides: Any):
    """Build a registered model: ``create_model("mlp", hidden=[128, 64])``.

    ``pretrained=True`` loads the zoo's weights for an ``arch.tag`` name (or
    the architecture's default tag); a path loads a local ``.safetensors`` file.
    """
    from . import pretrained as zoo

    if pretrained or zoo.is_pretrained_name(name):
        return zoo.create_pretrained(name, pretrained=pretrained, **overrides)
    target = get("model", name).load()
    return target(make_config("model", name, overrides))


def create_optimiser(name: str, params, **overrides: Any):
    """A ``torch.optim.Optimizer`` over ``params`` from a registered factory."""
    factory = get("optimiser", name).load()
    return factory(params, make_config("optimiser", name, overrides))


def create_scheduler(name: str, optimizer, total_steps: int, **overrides: Any):
    """A learning-rate scheduler for ``optimizer`` from a registered factory."""
    factory = get("scheduler", name).load()
    return factory(optimizer, make_config("scheduler", name, overrides), total_steps)


def list_components(kind: str, pattern: str = "*") -> list[str]:
    """Short names of ``kind`` matching a wildcard pattern, sorted."""
    return sorted({e.name for e in registry().entries(kind, pattern)})


def list_models(pattern: str = "*", pretrained: bool = False) -> list[str]:
    """Model names matching ``pattern``; with ``pretrained=True``, the zoo's ``arch.tag`` entries."""
    if pretrained:
        from . import pretrained as zoo

        return zoo.list_pretrained(pattern)
    return list_components("model", pattern)
