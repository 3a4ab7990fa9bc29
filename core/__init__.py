"""dpzoo: a plugin-based model zoo and training harness.

``import dpzoo`` is cheap: it loads no plugin and imports neither torch nor
any model code. The registry fills on first use::

    import dpzoo
    dpzoo.list_models("mlp*")
    model = dpzoo.create_model("mlp", hidden=[128, 64])
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .api import create_model, list_components, list_models
from .components import config_class, create, create_optimiser, create_scheduler, get
from .config import Config
from .env import env_flag
from .errors import (
    AmbiguousNameError,
    ConfigError,
    DpzooError,
    IntegrityError,
    PluginError,
    UnknownNameError,
)
from .hookspecs import hookimpl
from .plugin_manager import register_plugin, reload as reload_plugins, unregister_plugin

# Names that need torch are imported on first access, keeping `import dpzoo` light.
_LAZY = {
    "Model": "interfaces",
    "Loss": "interfaces",
    "LossOutput": "interfaces",
    "Relaxation": "interfaces",
    "Dataset": "interfaces",
    "Metric": "interfaces",
    "Trainer": "trainer",
    "TrainConfig": "trainer",
    "RunConfig": "run",
    "train": "run",
    "model_card": "pretrained",
    "ModelCard": "pretrained",
}


def __getattr__(name: str) -> Any:
    if name == "__version__":  # from the installed distribution's metadata: pyproject.toml is its one home
        from .provenance import version

        return version()
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dpzoo' has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # once imported, a plain attribute: `dpzoo.LossOutput` in a loss's hot path costs nothing
    return value


def list_plugins() -> list[dict[str, Any]]:
    """Every discovered plugin: name, version, status and what it registers."""
    from .plugin_manager import host

    return [info.as_dict() for info in sorted(host().plugins.values(), key=lambda p: p.name)]


__all__ = [  # noqa: PLE0604 - *_LAZY adds strings, which ruff cannot see
    "AmbiguousNameError",
    "Config",
    "ConfigError",
    "DpzooError",
    "IntegrityError",
    "PluginError",
    "UnknownNameError",
    "config_class",
    "create",
    "create_model",
    "create_optimiser",
    "create_scheduler",
    "get",
    "hookimpl",
    "list_components",
    "list_models",
    "list_plugins",
    "register_plugin",
    "reload_plugins",
    "unregister_plugin",
    "env_flag",
    *_LAZY,  # the names imported on first access
]
