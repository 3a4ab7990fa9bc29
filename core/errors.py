"""dpzoo's exceptions: each one says what went wrong and what to do next."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class DpzooError(Exception):
    """Base class for every error dpzoo raises on purpose."""


class UnknownNameError(DpzooError, LookupError):
    """A component name that no plugin registered."""

    def __init__(self, kind: str, name: str, known: Iterable[str]):
        self.kind, self.name = kind, name
        self.suggestions = closest(name, known)
        if ":" not in name:  # suggest short names; 'plugin:name' only when asked that way
            self.suggestions = [s for s in self.suggestions if ":" not in s] or self.suggestions
        hint = f" Did you mean: {', '.join(self.suggestions)}?" if self.suggestions else ""
        super().__init__(f"no {kind} named {name!r}.{hint} (`dpzoo list --kind {kind}` shows every registered {kind}.)")

    def __str__(self) -> str:  # KeyError-style repr quoting would hide the message
        return self.args[0]


class AmbiguousNameError(DpzooError, LookupError):
    """A short name that two or more plugins registered for the same kind."""

    def __init__(self, kind: str, name: str, qualified: list[str]):
        self.kind, self.name, self.qualified = kind, name, qualified
        super().__init__(
            f"{kind} name {name!r} is registered by several plugins: "
            f"{', '.join(qualified)}. Use the qualified 'plugin:name' form."
        )


class ConfigError(DpzooError, ValueError):
    """A configuration that does not validate; the message names the key."""


class PluginError(DpzooError):
    """A plugin that could not be loaded (raised only in strict mode)."""


class IntegrityError(DpzooError):
    """Weights whose hash, size or keys do not match what was recorded."""


def closest(name: str, known: Iterable[str], n: int = 3) -> list[str]:
    """The known names nearest to ``name``, best first (substring matches count too)."""
    known = sorted(set(known))
    matches = difflib.get_close_matches(name, known, n=n, cutoff=0.5)
    for candidate in known:
        if len(matches) >= n:
            break
        if candidate not in matches and (name in candidate or candidate in name):
            matches.append(candidate)
    return matches
