"""Loading pretrained weights: the card, the architecture it names, then every tensor.

Every load checks the file's size and full sha256 (see ``sources``), reads the
model card from the file's header, builds the architecture from the card's
config and refuses weights whose names or shapes do not fit it. Nothing is
ever unpickled.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..components import get
from ..config import validate
from ..errors import ConfigError, DpzooError, IntegrityError
from ..registry import ZooName
from . import sources
from .card import CARD_KEY, ModelCard, card_from_header
from .entries import Weights, resolve
from .safetensors_file import Header, read_header, tensors_sha256


def model_card(name: str) -> ModelCard:
    """The card of a pretrained entry (its file is hash-checked), or of a local ``.safetensors`` file."""
    if name.endswith(".safetensors") and Path(name).is_file():
        return card_from_header(read_header(name))
    return _verified(resolve(name))[1]


def _verified(weights: Weights) -> tuple[Header, ModelCard]:
    """The hash-checked file's header and card (parsed once per unchanged file)."""
    path = weights.local_path()
    stat = sources.check_file(path, weights.sha256, weights.size, weights.qualified_name)
    header, card = sources.remembered(path, "card", lambda: _header_and_card(path), stat)
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
    if text.startswith(sources.SCHEMES):
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
        arch, config = ZooName.parse(name).arch, {}
    wanted = ZooName.parse(name).arch
    if wanted != arch:
        raise ConfigError(f"{path} holds weights for {arch!r}, not {name!r}; call create_model({arch!r}, pretrained=...)")
    return _load(header, arch, config, overrides)


def _model_class(arch: str):
    return get("model", arch).load()


def _config(arch: str, config: dict[str, Any], overrides: dict[str, Any]):
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
