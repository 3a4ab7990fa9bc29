"""The catalogue of pretrained entries: the shipped index and the plugins' registrations.

Listing reads only ``index.json`` and the registry: no torch import, no weights read.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..components import registry
from ..errors import AmbiguousNameError, DpzooError, UnknownNameError
from ..registry import ZooName
from . import sources

INDEX = "index.json"
SHIPPED = "zoo"  # the source name of the weights shipped with dpzoo
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class UnknownPretrainedError(UnknownNameError):
    def __init__(self, name: str, known: list[str]):
        super().__init__("pretrained model", name, known)
        hint = f" Did you mean: {', '.join(self.suggestions)}?" if self.suggestions else ""
        self.args = (f"no pretrained weights named {name!r}.{hint} (`dpzoo list --pretrained` lists them all.)",)


@dataclass(frozen=True)
class Weights:
    """Where one pretrained entry lives and how to check it."""

    name: str  # arch.tag
    source: str  # "zoo" or the registering plugin
    location: str  # a file path (shipped) or a URL
    sha256: str
    size: int | None
    summary: str = ""
    headline: str = ""
    default: bool = False

    @property
    def arch(self) -> str:
        return ZooName.parse(self.name).arch

    @property
    def qualified_name(self) -> str:
        return f"{self.source}:{self.name}"

    @property
    def is_url(self) -> bool:
        return self.location.startswith(sources.SCHEMES)

    def local_path(self) -> str:
        """The file on disk, downloading it into the cache first for a URL."""
        if not self.is_url:
            return self.location
        return str(sources.fetch(self.location, self.sha256, self.size, f"{self.name}-{self.sha256[:16]}.safetensors"))


# -- the catalogue --------------------------------------------------------------
@lru_cache(maxsize=None)
def zoo_dir() -> Path:
    """The directory of the weights shipped with dpzoo (the ``dpzoo.zoo`` package)."""
    from importlib.util import find_spec

    spec = find_spec("dpzoo.zoo")
    return Path(next(iter(spec.submodule_search_locations))).absolute()


def read_index(directory: Path) -> dict[str, Any]:
    path = directory / INDEX
    if not path.exists():
        return {"format": 1, "entries": {}}
    return json.loads(path.read_text())


def _headline_text(headline: Any) -> str:
    if isinstance(headline, dict) and "name" in headline:
        return f"{headline['name']} {headline['value']:.4f}"
    return str(headline or "")


def _shipped() -> tuple[Weights, ...]:
    directory = zoo_dir()

    def read() -> tuple[Weights, ...]:
        return tuple(
            Weights(
                name, SHIPPED, str(directory / row["file"]), row["sha256"], row.get("size"),
                row.get("summary", ""), _headline_text(row.get("headline")), bool(row.get("default")),
            )
            for name, row in read_index(directory)["entries"].items()
        )

    try:
        stat = os.stat(directory / INDEX)
    except FileNotFoundError:
        return ()
    return sources.remembered(directory / INDEX, "index", read, stat)


def _registered() -> list[Weights]:
    import warnings

    out = []
    for entry in registry().entries("pretrained"):
        info = entry.info
        problem = None
        if not ZooName.parse(entry.name).is_entry:
            problem = "its name is not of the form arch.tag"
        elif not isinstance(entry.target, str) or not entry.target.startswith(sources.SCHEMES):
            problem = f"its target must be a URL starting with {', '.join(sources.SCHEMES)}"
        elif not _SHA256.match(str(info.get("sha256", ""))):
            problem = "it needs sha256=<64 lowercase hex digits> of the file"
        if problem:
            warnings.warn(f"plugin {entry.plugin!r} registered pretrained {entry.name!r}, skipped: {problem}", stacklevel=2)
            continue
        size = info.get("size")
        out.append(
            Weights(
                entry.name, entry.plugin, entry.target, info["sha256"], int(size) if size is not None else None,
                str(info.get("summary", "")), _headline_text(info.get("headline")), bool(info.get("default")),
            )
        )
    return out


def catalogue() -> list[Weights]:
    """Every pretrained entry, shipped and registered, sorted by name."""
    return sorted((*_shipped(), *_registered()), key=lambda w: (w.name, w.source != SHIPPED, w.source))


def resolve(name: str) -> Weights:
    """The entry for ``arch.tag``, ``source:arch.tag`` or ``arch`` (its default tag)."""
    entries = catalogue()
    matches = [w for w in entries if name in (w.name, w.qualified_name)]
    parsed = ZooName.parse(name)
    if not matches and parsed.source is None and not parsed.tag:  # an architecture alone: its default tag
        tags = [w for w in entries if w.arch == name]
        matches = [w for w in tags if w.default] or (tags if len(tags) == 1 else [])
        if not matches and tags:
            raise DpzooError(
                f"{name!r} has several pretrained tags and none is its default: {', '.join(w.name for w in tags)}; "
                "name one of them"
            )
    if not matches:
        raise UnknownPretrainedError(name, [w.name for w in entries] + [w.arch for w in entries])
    if len(matches) > 1:
        raise AmbiguousNameError("pretrained model", name, [w.qualified_name for w in matches])
    return matches[0]


def is_pretrained_name(name: str) -> bool:
    """Whether ``name`` reads as ``arch.tag`` rather than a registered model name."""
    if not ZooName.parse(name).tag:
        return False
    return not any(name in (e.name, e.qualified_name) for e in registry().entries("model"))


def list_rows(pattern: str = "*") -> list[dict[str, str]]:
    """What ``dpzoo list --pretrained`` shows: name, headline metric, summary, source.

    An entry is named as it resolves: ``arch.tag`` when no other source has
    that name, ``source:arch.tag`` when several do.
    """
    entries = catalogue()
    counts: dict[str, int] = {}
    for w in entries:
        counts[w.name] = counts.get(w.name, 0) + 1
    rows = []
    for w in entries:
        if fnmatch.fnmatchcase(w.name, pattern) or fnmatch.fnmatchcase(w.qualified_name, pattern):
            name = w.name if counts[w.name] == 1 else w.qualified_name
            rows.append({"name": name, "headline": w.headline, "summary": w.summary, "source": w.location})
    return rows


def list_pretrained(pattern: str = "*") -> list[str]:
    """The names ``list_rows`` shows for entries matching the wildcard ``pattern`` (e.g. ``"mlp*"``), sorted."""
    return sorted(row["name"] for row in list_rows(pattern))
