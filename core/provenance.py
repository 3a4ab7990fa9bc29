"""Where a run or a set of weights came from: dpzoo's version and the torch environment.

A run's ``config.json`` and a model card record the same environment, the
things bitwise-repeatable CPU training depends on besides the seed and the
config: the PyTorch version, the thread count (reductions split by thread),
the SIMD kernels (``torch.backends.cpu.get_cpu_capability()``) and the device.
"""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def version() -> str:
    """dpzoo's installed version, read from the distribution's metadata (``pyproject.toml``)."""
    from importlib.metadata import PackageNotFoundError, version as installed

    try:
        return installed("dpzoo")
    except PackageNotFoundError:  # imported from a source tree that was never installed
        return "0+unknown"


def environment(device: str, threads: int | None = None) -> dict[str, Any]:
    """The record: torch version, CPU threads (``threads`` or this process's), CPU kernels, device type."""
    import torch

    return {
        "torch": torch.__version__.split("+")[0],
        "threads": threads or torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "device": device,
    }
