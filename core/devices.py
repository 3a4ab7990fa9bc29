"""Device selection: ``auto`` picks CUDA, then Apple's MPS, then the CPU.

Names are checked before torch is imported (``check_device_name``), so a
typo such as ``--device gpu`` is answered at once, with the spelling to use.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .errors import ConfigError

if TYPE_CHECKING:
    import torch

_VALID = re.compile(r"(auto|cpu|mps|cuda)(:\d+)?$")
_ALIASES = {"gpu": "cuda", "nvidia": "cuda", "metal": "mps", "apple": "mps"}
CHOICES = "auto, cpu, cuda, cuda:N or mps"


def check_device_name(name: str) -> str:
    """``name`` if dpzoo can train on such a device, else an error naming the valid spellings."""
    if _VALID.match(name) and not name.startswith(("auto:", "mps:", "cpu:")):
        return name
    base, _, index = name.partition(":")
    alias = _ALIASES.get(base.lower())
    hint = f" (did you mean {alias + (':' + index if index else '')!r}?)" if alias else ""
    raise ConfigError(f"trainer.device: {name!r} is not a device dpzoo can train on{hint}; use {CHOICES} (--device)")


def resolve_device(name: str = "auto") -> torch.device:
    import torch

    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(check_device_name(name))
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"trainer.device: {name!r} asked for, but CUDA is not available here; use 'auto' or 'cpu'")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"trainer.device: {name!r} asked for, but MPS is not available here; use 'auto' or 'cpu'")
    return device
