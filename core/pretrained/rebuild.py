"""Rebuilding a zoo entry: train again with its card's command, publish, compare with the card.

The file's own sha256 cannot match (the card holds its publication date), so
weights are compared by ``weights_sha256``, a hash over the tensors alone; on
the CPU with the same seed, PyTorch, kernels and thread count, training is
bitwise repeatable and the two agree.
"""

from __future__ import annotations

import contextlib
import shlex
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .card import ModelCard
from .entries import resolve
from .loading import model_card
from .publish import publish

COMMAND_PREFIXES = (["dpzoo", "train"], ["python", "tools/train.py"], ["tools/train.py"])


def config_from_command(command: str) -> dict[str, Any]:
    """The run config that a recorded ``dpzoo train ...`` command asks for."""
    from ..train_command import config_from_argv

    argv = shlex.split(command)
    for prefix in COMMAND_PREFIXES:
        if argv[: len(prefix)] == prefix:
            config, args = config_from_argv(argv[len(prefix):])
            if args.resume:
                raise ConfigError(f"cannot rebuild from a resumed run's command: {command}")
            return config
    raise ConfigError(f"cannot rebuild from {command!r}: it is not a `dpzoo train ...` command")


@dataclass
class BuildReport:
    card: ModelCard  # the card rebuilt against
    rebuilt: ModelCard
    path: Path | None  # where the rebuilt file was published (None: a temporary directory)
    seconds: float
    drift: list[str] = field(default_factory=list)  # config values that resolve differently today

    @property
    def same_environment(self) -> bool:
        """Whether PyTorch, the CPU kernels and the thread count match: what bitwise equality needs."""
        a, b = self.card.environment, self.rebuilt.environment
        return (a.torch, a.cpu_capability, a.threads, a.device) == (b.torch, b.cpu_capability, b.threads, b.device)

    @property
    def same_weights(self) -> bool:
        return self.card.weights_sha256 == self.rebuilt.weights_sha256

    def metric_differences(self) -> list[tuple[str, float, float]]:
        rebuilt = {m.name: m.value for m in self.rebuilt.metrics}
        return [
            (m.name, m.value, rebuilt.get(m.name, float("nan")))
            for m in self.card.metrics
            if not abs(rebuilt.get(m.name, float("nan")) - m.value) <= self.card.tolerance
        ]


def rebuild(name: str, out_dir: str | Path | None = None, announce=None) -> BuildReport:
    """Train ``name`` again with its card's command, publish it (to ``out_dir``) and compare."""
    from ..run import load_run_config, train

    card = model_card(name)
    default = resolve(name).default if not name.endswith(".safetensors") else None
    config = config_from_command(card.command)
    threads = card.environment.threads
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="dpzoo-build-") as tmp, cpu_threads(threads):
        result = train({**config, "logdir": tmp, "run_name": "build"}, command=card.command, announce=announce)
        seconds = time.perf_counter() - started
        drift = config_drift(card, load_run_config(result.run_dir))
        target = Path(out_dir) if out_dir is not None else Path(tmp) / "published"
        path, rebuilt = publish(
            result.run_dir, card.name, out_dir=target, summary=card.summary, notes=card.notes,
            default=default, licence=card.licence, threads=threads,
        )
    if rebuilt.data.fingerprints != card.data.fingerprints:
        drift.append(f"data fingerprints: card {card.data.fingerprints}, now {rebuilt.data.fingerprints}")
    return BuildReport(card, rebuilt, path if out_dir is not None else None, seconds, drift)


@contextlib.contextmanager
def cpu_threads(n: int | None):
    """Run the block with ``torch.set_num_threads(n)`` (the card's training thread count)."""
    import torch

    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def config_drift(card: ModelCard, config: dict[str, Any]) -> list[str]:
    """Where today's resolution of the command differs from the card's record."""
    recorded = {"model": {"name": card.arch, **card.config}, "data": card.data.config, **card.run}
    now = {k: v for k, v in config.items() if k in recorded}
    return [f"{key}: card {a!r}, now {b!r}" for key, a, b in _differences(recorded, now, "")]


def _differences(a: Any, b: Any, prefix: str):
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            yield from _differences(a.get(key), b.get(key), f"{prefix}{key}.")
    elif a != b:
        yield prefix.rstrip("."), a, b
