"""Plugin discovery and loading, with pluggy.

Plugins are found through the ``dpzoo`` entry-point group; dpzoo's own topics
use the same group. Three environment variables steer loading:

``DPZOO_LOAD_PLUGINS``
    Comma-separated allow-list of plugin (entry-point) or distribution names.
    Set but empty, no plugin loads, built-ins included.
``DPZOO_DISABLE_PLUGINS``
    Comma-separated plugins to skip.
``DPZOO_STRICT_PLUGINS``
    A flag (see ``dpzoo.env``): set, a broken plugin is an error instead of a warning.

A plugin that fails to import, defines a hook dpzoo does not know (a typo such
as ``dpzoo_register_model``) or raises while registering is skipped, reported
with a warning and listed as broken by ``dpzoo plugins``.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

import pluggy

from . import hookspecs
from .env import env_flag
from .errors import PluginError, closest
from .registry import BUILTIN_DISTRIBUTION, KINDS, Entry, Registry

ENTRY_POINT_GROUP = "dpzoo"


class PluginWarning(UserWarning):
    """A plugin was skipped because it is broken."""


@dataclass
class PluginInfo:
    """What ``dpzoo plugins`` reports about one plugin."""

    name: str
    module: str
    distribution: str | None = None
    version: str | None = None
    status: str = "ok"  # ok | broken | disabled
    error: str | None = None
    registers: dict[str, list[str]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "module": self.module,
            "distribution": self.distribution,
            "version": self.version,
            "status": self.status,
            "error": self.error,
            "registers": self.registers,
        }


def _env_list(name: str) -> list[str] | None:
    value = os.environ.get(name)
    if value is None:
        return None
    return [item.strip() for item in value.split(",") if item.strip()]


def _normalise(name: str) -> str:
    """Plugin and distribution names compare as pip compares them: case, '-', '_' and '.' alike."""
    return re.sub(r"[-_.]+", "-", name).lower()


class PluginHost:
    """Owns the pluggy manager, the plugin reports and the registry they fill."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager("dpzoo")
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self.registry = Registry()

    # -- loading -------------------------------------------------------------
    def load_entry_points(self) -> None:
        listed = _env_list("DPZOO_LOAD_PLUGINS")
        allow = None if listed is None else {_normalise(name) for name in listed}
        deny = {_normalise(name) for name in _env_list("DPZOO_DISABLE_PLUGINS") or []}
        seen: dict[str, str | None] = {}
        # dpzoo's own first within a name: a third-party entry point cannot take a built-in plugin's name
        found = sorted(
            entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: (ep.name, _dist(ep) != BUILTIN_DISTRIBUTION)
        )
        _warn_unknown(allow, deny, found)
        for ep in found:
            dist = ep.dist.name if ep.dist else None
            version = ep.dist.version if ep.dist else None
            if ep.name in seen:
                if seen[ep.name] == dist:  # the same distribution found twice on sys.path
                    continue
                clash = PluginInfo(f"{ep.name} ({dist})", ep.value, dist, version)
                self.plugins[clash.name] = clash
                self._broken(
                    clash,
                    f"plugin name {ep.name!r} is already taken by distribution {seen[ep.name]!r}; "
                    "rename the entry point under [project.entry-points.dpzoo]",
                )
                continue
            seen[ep.name] = dist
            info = PluginInfo(ep.name, ep.value, dist, version)
            self.plugins[ep.name] = info
            names = {_normalise(ep.name)} | ({_normalise(dist)} if dist else set())
            if (allow is not None and not names & allow) or names & deny:
                info.status = "disabled"
                continue
            try:
                with _quiet_stdout():
                    module = ep.load()
            except (Exception, SystemExit) as exc:  # noqa: BLE001 - a plugin's import cannot end the host (Ctrl-C still does)
                self._broken(info, f"import failed: {type(exc).__name__}: {exc}")
                continue
            with _quiet_stdout():
                self.add(module, ep.name, info=info)

    def add(self, plugin: object, name: str, info: PluginInfo | None = None) -> PluginInfo:
        """Register one plugin object (a module or any object with hook implementations)."""
        if info is None:
            if self.pm.get_plugin(name) is not None:
                raise ValueError(
                    f"a plugin named {name!r} is already loaded ({self.plugins[name].module}); "
                    f"choose another name or call dpzoo.unregister_plugin({name!r}) first"
                )
            module = getattr(plugin, "__name__", type(plugin).__name__)
            info = PluginInfo(name, module)
            self.plugins[name] = info
        try:
            self.pm.register(plugin, name=name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            self._broken(info, str(exc))
            return info
        unknown = [hc.name for hc in self.pm.get_hookcallers(plugin) or [] if not hc.has_spec()]
        if unknown:
            self.pm.unregister(plugin)
            hints = []
            for hook in unknown:
                near = closest(hook, KINDS.values(), n=1)
                hints.append(f"{hook!r}" + (f" (did you mean {near[0]!r}?)" if near else ""))
            self._broken(info, "defines unknown hook " + ", ".join(hints))
            return info
        self._collect(plugin, info)
        return info

    def _collect(self, plugin: object, info: PluginInfo) -> None:
        """Call each of the plugin's register hooks with a callback bound to it."""
        staged: list[Entry] = []

        def register_for(kind: str) -> Callable[..., None]:
            def register(name: str, target: Any, **extra: Any) -> None:
                if not isinstance(name, str) or not name:
                    raise ValueError(f"{kind} names must be non-empty strings, got {name!r}")
                if ":" in name:
                    raise ValueError(f"{kind} name {name!r} may not contain ':' (reserved for plugin:name)")
                staged.append(Entry(kind, name, target, info.name, info.distribution, info.version, dict(extra)))

            return register

        try:
            for kind, hook_name in KINDS.items():
                for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
                    if impl.plugin is plugin:
                        impl.function(register=register_for(kind))
            for entry in staged:
                self.registry.add(entry)
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - a failing plugin is reported, not fatal
            self.registry.drop_plugin(info.name)
            self.pm.unregister(plugin)
            self._broken(info, f"registration failed: {type(exc).__name__}: {exc}")
            return
        info.status = "ok"
        info.registers = self.registry.by_plugin(info.name)

    def add_commands(self, subparsers: Any) -> None:
        """Let every loaded plugin add ``dpzoo`` sub-commands; one that raises is reported broken and undone."""
        for impl in self.pm.hook.dpzoo_register_commands.get_hookimpls():
            before = dict(subparsers.choices)
            shown = list(subparsers._choices_actions)  # argparse keeps the help lines here, and nowhere public
            try:
                impl.function(subparsers=subparsers)
            except Exception as exc:  # noqa: BLE001 - a failing plugin is reported, not fatal
                subparsers.choices.clear()
                subparsers.choices.update(before)
                subparsers._choices_actions[:] = shown
                info = self.plugins.get(impl.plugin_name) or PluginInfo(impl.plugin_name, type(impl.plugin).__name__)
                self.registry.drop_plugin(info.name)  # no half-loaded plugins: its components go too
                self.pm.unregister(impl.plugin)
                info.registers = {}
                self._broken(info, f"command registration failed: {type(exc).__name__}: {exc}")

    def _broken(self, info: PluginInfo, error: str) -> None:
        info.status, info.error = "broken", error
        message = f"dpzoo plugin {info.name!r} ({info.module}) is broken and was skipped: {error}"
        if env_flag("DPZOO_STRICT_PLUGINS"):
            raise PluginError(message + " (DPZOO_STRICT_PLUGINS is set)")
        warnings.warn(message, PluginWarning, stacklevel=3)


def _dist(ep) -> str | None:
    return ep.dist.name if ep.dist else None


@contextlib.contextmanager
def _quiet_stdout():
    """A plugin's prints while it loads go to stderr: stdout carries results (``--json``) only."""
    with contextlib.redirect_stdout(sys.stderr):
        yield


def _warn_unknown(allow: set[str] | None, deny: set[str], found: list) -> None:
    """A misspelt name in DPZOO_LOAD_PLUGINS would silently disable everything: say so, with the closest name."""
    known = {_normalise(ep.name) for ep in found} | {_normalise(ep.dist.name) for ep in found if ep.dist}
    for variable, names in (("DPZOO_LOAD_PLUGINS", allow or set()), ("DPZOO_DISABLE_PLUGINS", deny)):
        for name in sorted(names - known):
            near = closest(name, known, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            warnings.warn(
                f"{variable} names {name!r}, which no installed dpzoo plugin is called{hint}; "
                f"installed: {', '.join(sorted(ep.name for ep in found)) or 'none'}",
                PluginWarning,
                stacklevel=4,
            )


_host: PluginHost | None = None
_lock = threading.RLock()


def host() -> PluginHost:
    """The loaded plugins and registry, loading them on first use."""
    global _host
    with _lock:
        if _host is None:
            fresh = PluginHost()
            fresh.load_entry_points()
            _host = fresh
        return _host


def reload() -> PluginHost:
    """Forget every plugin and discover them again (after a pip install, say)."""
    global _host
    with _lock:
        _host = None
        return host()


def register_plugin(plugin: object, name: str | None = None) -> PluginInfo:
    """Add a plugin from code (a notebook, a test) without packaging it."""
    name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
    with _lock:
        return host().add(plugin, name)


def unregister_plugin(name: str) -> None:
    with _lock:
        h = host()
        plugin = h.pm.get_plugin(name)
        if plugin is not None:
            h.pm.unregister(plugin)
        h.registry.drop_plugin(name)
        h.plugins.pop(name, None)
