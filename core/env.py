"""Environment variables that switch something on: one reading of "set" for all of them.

``DPZOO_OFFLINE``, ``DPZOO_STRICT_PLUGINS``, ``DPZOO_DEBUG`` (and the Hugging Face offline
variables the data plugin honours) are flags. A flag is off when unset,
empty, or one of ``0``, ``false``, ``no``, ``off``, ``n``, ``f`` (any case);
any other value switches it on, so ``DPZOO_OFFLINE=y`` or ``=2`` is offline:
a typo errs on the side of the switch the user reached for.
"""

from __future__ import annotations

import os

OFF = frozenset({"", "0", "false", "no", "off", "n", "f"})


def env_flag(name: str) -> bool:
    """Whether the environment variable ``name`` is set to anything but an "off" word."""
    return os.environ.get(name, "").strip().lower() not in OFF
