"""Pretrained weights by name: the zoo.

An entry is named ``arch.tag`` (``mlp.digits``): ``arch`` is a registered
model, ``tag`` says what the weights were trained for. ``arch`` alone means
its default tag. Entries come from two places:

* the files shipped in ``dpzoo.zoo`` and listed in its ``index.json``
  (file, sha256, size, summary, headline metric), qualified as ``zoo:NAME``;
* any plugin's ``dpzoo_register_pretrained`` hook:
  ``register("arch.tag", "https://...", sha256=..., size=..., summary=..., default=False)``,
  qualified as ``PLUGIN:NAME``; the file is downloaded into the cache once.

Every load checks the file's full sha256 (see ``hub``), reads the model card
from the file's header, builds the architecture from the card's config and
refuses weights whose names, shapes or dtypes do not fit it. Nothing is ever
unpickled. Listing reads only the index and the registry: no torch import.
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
from .card import ModelCard, card_from_header
from .errors import AmbiguousNameError, ConfigError, DpzooError, IntegrityError, UnknownNameError
from .safetensors_file import Header, read_header

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

    def local_path(self) -> Path:
        """The file on disk, downloading it into the cache first for a URL."""
        if not self.is_url:
            return Path(self.location)
        return hub.fetch(self.location, self.sha256, self.size, f"{self.name}-{self.sha256[:16]}.safetensors")


# -- the catalogue --------------------------------------------------------------
def zoo_dir() -> Path:
    """The directory of the weights shipped with dpzoo (the ``dpzoo.zoo`` package)."""
    from importlib.util import find_spec

    spec = find_spec("dpzoo.zoo")
    return Path(next(iter(spec.submodule_search_locations)))


def read_index(directory: Path) -> dict[str, Any]:
    path = directory / INDEX
    if not path.exists():
        return {"format": 1, "entries": {}}
    return json.loads(path.read_text())


def _headline_text(headline: Any) -> str:
    if isinstance(headline, dict) and "name" in headline:
        return f"{headline['name']} {headline['value']:.4f}"
    return str(headline or "")


def _shipped() -> list[Weights]:
    directory = zoo_dir()
    return [
        Weights(
            name, SHIPPED, str(directory / row["file"]), row["sha256"], row.get("size"),
            row.get("summary", ""), _headline_text(row.get("headline")), bool(row.get("default")),
        )
        for name, row in read_index(directory)["entries"].items()
    ]


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
    return sorted(_shipped() + _registered(), key=lambda w: (w.name, w.source != SHIPPED, w.source))


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
    weights = resolve(name)
    path = weights.local_path()
    hub.check_file(path, weights.sha256, weights.size, weights.qualified_name)
    return _checked_card(weights, read_header(path))


def _checked_card(weights: Weights, header: Header) -> ModelCard:
    card = card_from_header(header)
    if card.name != weights.name:
        raise IntegrityError(f"{header.path} holds the card of {card.name!r}, not of {weights.name!r}")
    return card


# -- building -------------------------------------------------------------------
def create_pretrained(name: str, pretrained: bool | str | os.PathLike = True, **overrides: Any):
    """The model ``name`` with pretrained weights (``pretrained`` true or a local file), or untrained.

    With ``pretrained=False`` an ``arch.tag`` name builds the tagged
    architecture with fresh weights. ``overrides`` may change config values
    that leave the weights' shapes alone (dropout, say); others are refused.
    """
    if isinstance(pretrained, (str, os.PathLike)):
        return load_local(name, Path(pretrained), **overrides)
    weights = resolve(name)
    path = weights.local_path()
    hub.check_file(path, weights.sha256, weights.size, weights.qualified_name)
    header = read_header(path)
    card = _checked_card(weights, header)
    if not pretrained:
        return _model_class(card.arch)(_config(card.arch, card.config, overrides))
    return _load(header, card.arch, card.config, overrides)


def load_local(name: str, path: Path, **overrides: Any):
    """Weights from a local ``.safetensors`` file: its card, else a run's ``dpzoo.model`` record, else ``name``."""
    text = str(path)
    if text.startswith(hub.SCHEMES):
        raise DpzooError(
            f"pretrained={text!r}: a URL needs its sha256; register it from a plugin with "
            "register('arch.tag', url, sha256=..., size=...), or download it and pass the local path"
        )
    if not path.is_file():
        raise DpzooError(f"pretrained={text!r}: no such file")
    if path.suffix != ".safetensors":
        raise DpzooError(f"pretrained={text!r}: dpzoo loads only .safetensors files (never pickles)")
    header = read_header(path)
    from .card import CARD_KEY
    from .safetensors_file import tensors_sha256

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


@lru_cache(maxsize=None)
def _torch_dtypes() -> dict[str, Any]:
    import torch

    return {
        torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.bfloat16: "BF16",
        torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
        torch.uint8: "U8", torch.bool: "BOOL",
    }


def _load(header: Header, arch: str, config: dict[str, Any], overrides: dict[str, Any]):
    """Build ``arch`` without initialising it (on the meta device), then take the file's tensors."""
    import torch
    from safetensors.torch import load_file as read_tensors

    cls, cfg = _model_class(arch), _config(arch, config, overrides)
    with torch.device("meta"):
        model = cls(cfg)
    expected = {k: (tuple(v.shape), _torch_dtypes().get(v.dtype, str(v.dtype))) for k, v in model.state_dict().items()}
    stored = {k: (t.shape, t.dtype) for k, t in header.tensors.items()}
    if expected != stored:
        raise _mismatch(header.path, arch, expected, stored, overrides)
    model.load_state_dict(read_tensors(str(header.path)), strict=True, assign=True)
    if any(t.is_meta for t in (*model.parameters(), *model.buffers())):
        # a buffer the state dict does not hold (non-persistent): build normally instead
        model = cls(cfg)
        model.load_state_dict(read_tensors(str(header.path)), strict=True)
    return model


def _mismatch(path: Path, arch: str, expected: dict, stored: dict, overrides: dict) -> DpzooError:
    missing = sorted(set(expected) - set(stored))
    unexpected = sorted(set(stored) - set(expected))
    different = [
        f"{k}: model {list(expected[k][0])} {expected[k][1]}, file {list(stored[k][0])} {stored[k][1]}"
        for k in sorted(set(expected) & set(stored)) if expected[k] != stored[k]
    ]
    detail = "; ".join(
        part for part in (
            f"missing keys {missing}" if missing else "",
            f"unexpected keys {unexpected}" if unexpected else "",
            f"different shapes or dtypes: {', '.join(different)}" if different else "",
        ) if part
    )
    if overrides:
        return ConfigError(
            f"the overrides {sorted(overrides)} change the shapes of the weights of {arch!r}, so the pretrained file "
            f"{path} no longer fits ({detail}); leave them out, or build without pretrained weights"
        )
    return IntegrityError(f"{path} does not fit the architecture {arch!r}: {detail}")
