"""The registry: every component every plugin registered, looked up by kind and name.

An entry's target may be the object itself or a lazy ``"module:attr"`` string;
lazy targets are imported on first ``load()``, so listing imports no model code.
Pretrained entries are named ``[source:]arch.tag``; ``ZooName`` is the one
reading of such a name.
"""

from __future__ import annotations

import fnmatch
import importlib
import re
import warnings
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .errors import AmbiguousNameError, PluginError, UnknownNameError

BUILTIN_DISTRIBUTION = "dpzoo"  # dpzoo's own topics; their short names cannot be taken over


class ShadowWarning(UserWarning):
    """A third-party plugin registered a name dpzoo's built-ins already use; the built-in is used."""


# kind -> the hook that collects it
KINDS: dict[str, str] = {
    "model": "dpzoo_register_models",
    "loss": "dpzoo_register_losses",
    "optimiser": "dpzoo_register_optimisers",
    "scheduler": "dpzoo_register_schedulers",
    "relaxation": "dpzoo_register_relaxations",
    "dataset": "dpzoo_register_datasets",
    "metric": "dpzoo_register_metrics",
    "pretrained": "dpzoo_register_pretrained",
}


_PART = re.compile(r"^[A-Za-z0-9_\-]+$")
_TAG = re.compile(r"^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*$")


class ZooName(NamedTuple):
    """A pretrained entry's name ``[source:]arch[.tag]``: ``zoo:mlp.digits``, ``mlp.digits``, ``mlp``.

    ``source`` is the shipped zoo (``zoo``) or the plugin that registered the
    weights (everything before the last ``:``), ``arch`` the registered model
    that builds them, ``tag`` what they were trained for (``""``: the default).
    """

    source: str | None
    arch: str
    tag: str

    @classmethod
    def parse(cls, text: str) -> ZooName:
        source, colon, rest = text.rpartition(":")
        arch, _, tag = rest.partition(".")
        return cls(source if colon else None, arch, tag)

    @property
    def entry(self) -> str:
        """``arch.tag`` (``arch`` alone when no tag is named), without the source."""
        return f"{self.arch}.{self.tag}" if self.tag else self.arch

    @property
    def is_entry(self) -> bool:
        """Whether this names one entry: an ``arch`` and a ``tag`` of letters, digits, ``_``, ``-`` (and dots)."""
        return bool(_PART.match(self.arch) and _TAG.match(self.tag))


@dataclass
class Entry:
    """One registered component and where it came from."""

    kind: str
    name: str
    target: Any
    plugin: str
    distribution: str | None = None
    version: str | None = None
    info: dict[str, Any] = field(default_factory=dict)
    _loaded: Any = field(default=None, repr=False)

    @property
    def qualified_name(self) -> str:
        return f"{self.plugin}:{self.name}"

    @property
    def summary(self) -> str:
        return str(self.info.get("summary", ""))

    @property
    def is_lazy(self) -> bool:
        """A ``"module:attr"`` string (a pretrained entry's URL target is data, not code)."""
        return isinstance(self.target, str) and "://" not in self.target

    def load(self) -> Any:
        """The component itself, importing a lazy ``"module:attr"`` target once."""
        if not self.is_lazy:
            return self.target
        if self._loaded is None:
            module_name, _, attr = self.target.partition(":")
            try:
                obj = importlib.import_module(module_name)
                for part in attr.split(".") if attr else []:
                    obj = getattr(obj, part)
            except (ImportError, AttributeError) as exc:
                raise PluginError(
                    f"{self.kind} {self.qualified_name!r} could not be loaded from {self.target!r} "
                    f"(plugin {self.plugin!r}, {self.distribution or 'in-process'}): {type(exc).__name__}: {exc}"
                ) from exc
            self._loaded = obj
        return self._loaded


class Registry:
    """Entries by kind; short names resolve when unique, ``plugin:name`` always."""

    def __init__(self) -> None:
        self._entries: dict[str, list[Entry]] = {kind: [] for kind in KINDS}
        self._warned: set[tuple[str, str]] = set()

    def add(self, entry: Entry) -> None:
        if entry.kind not in self._entries:
            raise ValueError(f"unknown component kind {entry.kind!r}; kinds: {', '.join(KINDS)}")
        same = [e for e in self._entries[entry.kind] if e.qualified_name == entry.qualified_name]
        if same:
            raise ValueError(f"plugin {entry.plugin!r} registered {entry.kind} {entry.name!r} twice")
        self._entries[entry.kind].append(entry)

    def entries(self, kind: str, pattern: str = "*") -> list[Entry]:
        """Entries of ``kind`` whose short or qualified name matches the wildcard ``pattern``."""
        self._check_kind(kind)
        return sorted(
            (
                e
                for e in self._entries[kind]
                if fnmatch.fnmatchcase(e.name, pattern) or fnmatch.fnmatchcase(e.qualified_name, pattern)
            ),
            key=lambda e: (e.name, e.plugin),
        )

    def get(self, kind: str, name: str) -> Entry:
        """The entry called ``name`` (short or ``plugin:name``) or an error that helps."""
        self._check_kind(kind)
        entries = self._entries[kind]
        exact = [e for e in entries if e.qualified_name == name]
        if exact:
            return exact[0]
        found = [e for e in entries if e.name == name]
        if len(found) == 1:
            return found[0]
        builtin = [e for e in found if e.distribution == BUILTIN_DISTRIBUTION]
        if len(found) > 1 and len(builtin) == 1:  # a plugin cannot take a built-in's short name away
            self._warn_shadowed(kind, name, builtin[0], [e for e in found if e is not builtin[0]])
            return builtin[0]
        if len(found) > 1:
            raise AmbiguousNameError(kind, name, sorted(e.qualified_name for e in found))
        raise UnknownNameError(kind, name, [e.name for e in entries] + [e.qualified_name for e in entries])

    def _warn_shadowed(self, kind: str, name: str, builtin: Entry, others: list[Entry]) -> None:
        if (kind, name) in self._warned:
            return
        self._warned.add((kind, name))
        theirs = ", ".join(repr(e.qualified_name) for e in others)
        warnings.warn(
            f"{kind} {name!r} is also registered by {theirs}; using dpzoo's built-in {builtin.qualified_name!r}. "
            f"Ask for {others[0].qualified_name!r} to use the plugin's.",
            ShadowWarning,
            stacklevel=3,
        )

    def by_plugin(self, plugin: str) -> dict[str, list[str]]:
        """What one plugin registered: kind -> sorted names."""
        out: dict[str, list[str]] = {}
        for kind, entries in self._entries.items():
            names = sorted(e.name for e in entries if e.plugin == plugin)
            if names:
                out[kind] = names
        return out

    def drop_plugin(self, plugin: str) -> None:
        for kind in self._entries:
            self._entries[kind] = [e for e in self._entries[kind] if e.plugin != plugin]

    def _check_kind(self, kind: str) -> None:
        if kind not in self._entries:
            error = UnknownNameError("component kind", kind, KINDS)
            hint = f" (did you mean {error.suggestions[0]!r}?)" if error.suggestions else ""
            error.args = (f"unknown component kind {kind!r}{hint}; kinds: {', '.join(KINDS)}",)
            raise error
