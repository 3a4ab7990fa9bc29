"""Pretrained weights by name: the zoo.

An entry is named ``arch.tag`` (``mlp.digits``): ``arch`` is a registered
model, ``tag`` says what the weights were trained for. ``arch`` alone means
its default tag. Entries come from two places:

* the files shipped in ``dpzoo.zoo`` and listed in its ``index.json``
  (file, sha256, size, summary, headline metric), qualified as ``zoo:NAME``;
* any plugin's ``dpzoo_register_pretrained`` hook:
  ``register("arch.tag", "https://...", sha256=..., size=..., summary=..., default=False)``,
  qualified as ``PLUGIN:NAME``; the file is downloaded into the cache once.

Every load checks the file's size and full sha256 (see ``hub``), reads the
model card from the file's header, builds the architecture from the card's
config and refuses weights whose names or shapes do not fit it. Nothing is
ever unpickled. Listing reads only the index and the registry: no torch import.
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

from . import hub
from .card import CARD_KEY, ModelCard, card_from_header
from .errors import AmbiguousNameError, ConfigError, DpzooError, IntegrityError, UnknownNameError
from .safetensors_file import Header, read_header, tensors_sha256

__all__ = ["ModelCard", "create_pretrained", "is_pretrained_name", "list_pretrained", "list_rows", "model_card", "resolve"]

INDEX = "index.json"
SHIPPED = "zoo"  # the source name of the weights shipped with dpzoo
_NAME = re.compile(r"^[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-.]+$")
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
        return self.name.partition(".")[0]

    @property
    def qualified_name(self) -> str:
        return f"{self.source}:{self.name}"

    @property
    def is_url(self) -> bool:
        return self.location.startswith(hub.SCHEMES)

    def local_path(self) -> str:
        """The file on disk, downloading it into the cache first for a URL."""
        if not self.is_url:
            return self.location
        return str(hub.fetch(self.location, self.sha256, self.size, f"{self.name}-{self.sha256[:16]}.safetensors"))


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
    return hub.remembered(directory / INDEX, "index", read, stat)


def _registered() -> list[Weights]:
    import warnings

    from .components import registry

    out = []
    for entry in registry().entries("pretrained"):
        info = entry.info
        problem = None
        if not _NAME.match(entry.name):
            problem = "its name is not of the form arch.tag"
        elif not isinstance(entry.target, str) or not entry.target.startswith(hub.SCHEMES):
            problem = f"its target must be a URL starting with {', '.join(hub.SCHEMES)}"
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
    if not matches and "." not in name and ":" not in name:  # an architecture alone: its default tag
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
    if "." not in name.rpartition(":")[2]:
        return False
    from .components import registry

    return not any(name in (e.name, e.qualified_name) for e in registry().entries("model"))


def list_pretrained(pattern: str = "*") -> list[str]:
    """``arch.tag`` names matching the wildcard ``pattern`` (e.g. ``"mlp*"``), sorted."""
    return sorted({w.name for w in catalogue() if fnmatch.fnmatchcase(w.name, pattern)})


def list_rows(pattern: str = "*") -> list[dict[str, str]]:
    """What ``dpzoo list --pretrained`` shows: name, headline metric, summary, source."""
    rows = []
    for w in catalogue():
        if fnmatch.fnmatchcase(w.name, pattern) or fnmatch.fnmatchcase(w.qualified_name, pattern):
            name = w.name if w.source == SHIPPED else w.qualified_name
            rows.append({"name": name, "headline": w.headline, "summary": w.summary, "source": w.location})
    return rows


# -- cards ----------------------------------------------------------------------
def model_card(name: str) -> ModelCard:
    """The card of a pretrained entry (its file is hash-checked), or of a local ``.safetensors`` file."""
    if name.endswith(".safetensors") and Path(name).is_file():
        return card_from_header(read_header(name))
    return _verified(resolve(name))[1]


def _verified(weights: Weights) -> tuple[Header, ModelCard]:
    """The hash-checked file's header and card (parsed once per unchanged file)."""
    path = weights.local_path()
    stat = hub.check_file(path, weights.sha256, weights.size, weights.qualified_name)
    header, card = hub.remembered(path, "card", lambda: _header_and_card(path), stat)
    if card.name != weights.name:
        raise IntegrityError(f"{path} holds the card of {card.name!r}, not of {weights.name!r}")
    return header, card


def _header_and_card(path: Path) -> tuple[Header, ModelCard]:
    header = read_header(path)
    return header, card_from_header(header)


# -- building -------------------------------------------------------------------
def create_pretrained(name: str, pretrained: bool | str | os.PathLike = True, **overrides: Any):
    """The model ``name`` with pretrained weights (``pretrained`` true or a local file), or untrained.

    With ``pretrained=False`` an ``arch.tag`` name builds the tagged
    architecture with fresh weights. ``overrides`` may change config values
    that leave the weights' shapes alone (dropout, say); others are refused.
    """
    if isinstance(pretrained, (str, os.PathLike)):
        return load_local(name, pretrained, **overrides)
    header, card = _verified(resolve(name))
    if not pretrained:
        return _model_class(card.arch)(_config(card.arch, card.config, overrides))
    return _load(header, card.arch, card.config, overrides)


def load_local(name: str, path: str | os.PathLike, **overrides: Any):
    """Weights from a local ``.safetensors`` file: its card, else a run's ``dpzoo.model`` record, else ``name``."""
    text = os.fspath(path)
    if text.startswith(hub.SCHEMES):
        raise DpzooError(
            f"pretrained={text!r}: a URL needs its sha256; register it from a plugin with "
            "register('arch.tag', url, sha256=..., size=...), or download it and pass the local path"
        )
    path = Path(text).expanduser()
    if not path.is_file():
        raise DpzooError(f"pretrained={text!r}: no such file")
    if path.suffix != ".safetensors":
        raise DpzooError(f"pretrained={text!r}: dpzoo loads only .safetensors files (never pickles)")
    header = read_header(path)
    if CARD_KEY in header.metadata:
        card = card_from_header(header)
        actual = tensors_sha256(path, header)
        if actual != card.weights_sha256:
            raise IntegrityError(
                f"{path}: its tensors do not match its card: expected weights_sha256 {card.weights_sha256}, actual {actual}"
            )
        arch, config = card.arch, card.config
    elif "dpzoo.model" in header.metadata:  # a run's final model.safetensors
        section = json.loads(header.metadata["dpzoo.model"])
        arch, config = section.pop("name"), section
    else:
        arch, config = name.partition(".")[0], {}
    wanted = name.rpartition(":")[2].partition(".")[0]
    if wanted != arch:
        raise ConfigError(f"{path} holds weights for {arch!r}, not {name!r}; call create_model({arch!r}, pretrained=...)")
    return _load(header, arch, config, overrides)


def _model_class(arch: str):
    from .components import get

    return get("model", arch).load()


def _config(arch: str, config: dict[str, Any], overrides: dict[str, Any]):
    from .config import validate

    return validate(_model_class(arch).Config, {**config, **overrides}, f"model {arch!r}")


def _load(header: Header, arch: str, config: dict[str, Any], overrides: dict[str, Any]):
    """Build ``arch`` without drawing initial parameters, then load every tensor of the file into it.

    ``strict`` loading fills every parameter and persistent buffer or fails;
    a failure is explained from the file's header: missing and unexpected
    keys, and shapes that differ.
    """
    from safetensors.torch import load_file as read_tensors

    from .lazy_init import parameter_init_skipped

    cls, cfg = _model_class(arch), _config(arch, config, overrides)
    with parameter_init_skipped():
        model = cls(cfg)
    try:
        # assign: the module takes the file's tensors themselves (no copy), in the dtypes they were published in
        model.load_state_dict(read_tensors(str(header.path)), strict=True, assign=True)
    except RuntimeError as exc:
        expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        stored = {k: t.shape for k, t in header.tensors.items()}
        if expected == stored:
            raise
        raise _mismatch(header.path, arch, expected, stored, overrides) from exc
    return model


def _mismatch(path: Path, arch: str, expected: dict, stored: dict, overrides: dict) -> DpzooError:
    missing = sorted(set(expected) - set(stored))
    unexpected = sorted(set(stored) - set(expected))
    different = [
        f"{k}: model {list(expected[k])}, file {list(stored[k])}"
        for k in sorted(set(expected) & set(stored)) if expected[k] != stored[k]
    ]
    detail = "; ".join(
        part for part in (
            f"missing keys {missing}" if missing else "",
            f"unexpected keys {unexpected}" if unexpected else "",
            f"different shapes: {', '.join(different)}" if different else "",
        ) if part
    )
    if overrides:
        return ConfigError(
            f"the overrides {sorted(overrides)} change the shapes of the weights of {arch!r}, so the pretrained file "
            f"{path} no longer fits ({detail}); leave them out, or build without pretrained weights"
        )
    return IntegrityError(f"{path} does not fit the architecture {arch!r}: {detail}")
