"""Device names, checked before torch is imported: ``--device gpu`` is answered at once, with the spelling to use."""

from __future__ import annotations

import re

from .errors import ConfigError

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
