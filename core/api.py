"""The functions users call by name: list and build models, components and pretrained weights.

The one place that sees both the registry (``components``) and the zoo
(``pretrained``), which sits above it; neither imports this module.
"""

from __future__ import annotations

import os
from typing import Any

from . import components


def create_model(name: str, pretrained: bool | str | os.PathLike = False, **overrides: Any):
    """Build a registered model: ``create_model("mlp", hidden=[128, 64])``.

    ``pretrained=True`` loads the zoo's weights for an ``arch.tag`` name (or
    the architecture's default tag) and returns the model in eval mode, as
    Hugging Face's ``from_pretrained`` does (call ``.train()`` to fine-tune);
    a path loads a local ``.safetensors`` file the same way.
    """
    from . import pretrained as zoo  # imported on use: `import dpzoo` stays light; `pretrained` is the parameter

    if pretrained or zoo.is_pretrained_name(name):
        return zoo.create_pretrained(name, pretrained=pretrained, **overrides)
    target = components.get("model", name).load()
    return target(components.make_config("model", name, overrides))


def list_components(kind: str, pattern: str = "*") -> list[str]:
    """Short names of ``kind`` matching a wildcard pattern, sorted.

    For ``"pretrained"`` these are the zoo's entries, shipped and registered,
    named as ``dpzoo list --kind pretrained`` shows them.
    """
    if kind == "pretrained":
        from .pretrained import list_pretrained

        return list_pretrained(pattern)
    return sorted({e.name for e in components.registry().entries(kind, pattern)})


def list_models(pattern: str = "*", pretrained: bool = False) -> list[str]:
    """Model names matching ``pattern``; with ``pretrained=True``, the zoo's ``arch.tag`` entries."""
    return list_components("pretrained" if pretrained else "model", pattern)
