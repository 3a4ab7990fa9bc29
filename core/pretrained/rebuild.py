"""Rebuilding a zoo entry: train again with its card's command, publish, compare with the card.

The file's own sha256 cannot match (the card holds its publication date), so
weights are compared by ``weights_sha256``, a hash over the tensors alone. The
verdict says what matched:

* ``bitwise equal``: the same tensors. On the CPU with the same seed,
  PyTorch, kernels (``cpu_capability``) and thread count, training is bitwise
  repeatable, so this is what the card's own environment gives.
* ``reproduced up to kernels``: other tensors (other SIMD kernels sum floats
  in another order), but the rebuilt model predicts the same class for every
  example of every split the card scores, and each metric is within the
  tolerance the card records for it (``rebuild_tolerance``).
* ``differs``: anything else; ``dpzoo zoo build`` then exits non-zero.
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
from .card import DEFAULT_REBUILD_TOLERANCE, ModelCard
from .data import load_data
from .entries import resolve
from .loading import create_pretrained, load_local, model_card
from .publish import publish

BITWISE, UP_TO_KERNELS, DIFFERS = "bitwise equal", "reproduced up to kernels", "differs"

COMMAND_PREFIXES = (["dpzoo", "train"], ["python", "tools/train.py"], ["tools/train.py"])


def config_from_command(command: str) -> dict[str, Any]:
    """The run config that a recorded ``dpzoo train ...`` command asks for."""
    from ..train_command import config_from_argv

    argv = shlex.split(command)
    for prefix in COMMAND_PREFIXES:
        if argv[: len(prefix)] == prefix:
            config, args = config_from_argv(argv[len(prefix) :])
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
    # per split: the rebuilt model predicts the card's model's class for every example (None: not compared,
    # because the weights are the same, or the outputs are not class scores)
    predictions: dict[str, bool | None] = field(default_factory=dict)

    @property
    def same_environment(self) -> bool:
        """Whether PyTorch, the CPU kernels and the thread count match: what bitwise equality needs."""
        a, b = self.card.environment, self.rebuilt.environment
        return (a.torch, a.cpu_capability, a.threads, a.device) == (b.torch, b.cpu_capability, b.threads, b.device)

    @property
    def same_weights(self) -> bool:
        return self.card.weights_sha256 == self.rebuilt.weights_sha256

    def tolerance(self, metric: str) -> float:
        """How far a rebuild on other kernels may move ``metric``: the card's record, else the default."""
        return self.card.rebuild_tolerance.get(metric, DEFAULT_REBUILD_TOLERANCE)

    def metric_differences(self) -> list[tuple[str, float, float]]:
        """(name, card, rebuilt) for each metric outside its tolerance (a missing one counts as outside)."""
        rebuilt = {m.name: m.value for m in self.rebuilt.metrics}
        return [
            (m.name, m.value, rebuilt.get(m.name, float("nan")))
            for m in self.card.metrics
            if not abs(rebuilt.get(m.name, float("nan")) - m.value) <= self.tolerance(m.name)
        ]

    @property
    def verdict(self) -> str:
        if self.same_weights:
            return BITWISE
        if False not in self.predictions.values() and not self.metric_differences():
            return UP_TO_KERNELS
        return DIFFERS


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
            result.run_dir,
            card.name,
            out_dir=target,
            summary=card.summary,
            notes=card.notes,
            default=default,
            licence=card.licence,
            threads=threads,
            rebuild_tolerance=card.rebuild_tolerance,
        )
    if rebuilt.data.fingerprints != card.data.fingerprints:
        drift.append(f"data fingerprints: card {card.data.fingerprints}, now {rebuilt.data.fingerprints}")
    report = BuildReport(card, rebuilt, path if out_dir is not None else None, seconds, drift)
    if not report.same_weights:
        original = load_local(card.name, name) if name.endswith(".safetensors") else create_pretrained(name)
        report.predictions = same_predictions(original, result.model.to("cpu"), card)
    return report


def same_predictions(a, b, card: ModelCard) -> dict[str, bool | None]:
    """Per split the card scores: whether ``a`` and ``b`` predict the same class for every example.

    A prediction is the argmax over the last axis of a model's output when
    that is a floating tensor of class scores; for any other output the split
    is not compared (``None``).
    """
    import torch

    splits = sorted({m.split for m in card.metrics})
    data = load_data(card.data.config, splits).data
    out: dict[str, bool | None] = {}
    a.eval(), b.eval()
    with torch.no_grad():
        for split in splits:
            same: bool | None = True
            for batch in data.batches(split, card.evaluation.batch_size):
                x, y = a(batch), b(batch)
                if not (isinstance(x, torch.Tensor) and x.is_floating_point() and x.dim() >= 2):
                    same = None
                    break
                if not torch.equal(x.argmax(-1), y.argmax(-1)):
                    same = False
                    break
            out[split] = same
    return out


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


# How a run is watched, never what it computes: a default changed here since the card (checkpoints by time
# instead of by epoch, issue 16) is not drift.
WATCHING = frozenset(
    {
        "trainer.checkpoint_seconds",
        "trainer.checkpoint_every",
        "trainer.checkpoint_epochs",
        "trainer.keep_checkpoints",
        "trainer.log_every",
        "trainer.progress",
    }
)


def config_drift(card: ModelCard, config: dict[str, Any]) -> list[str]:
    """Where today's resolution of the command differs from the card's record (in what the run computes)."""
    recorded = {"model": {"name": card.arch, **card.config}, "data": card.data.config, **card.run}
    now = {k: v for k, v in config.items() if k in recorded}
    return [f"{key}: card {a!r}, now {b!r}" for key, a, b in _differences(recorded, now, "") if key not in WATCHING]


def _differences(a: Any, b: Any, prefix: str):
    if isinstance(a, dict) and isinstance(b, dict):
        # an option added to dpzoo after the card was made is not drift: the weights comparison says whether it matters
        for key in sorted(a):
            yield from _differences(a.get(key), b.get(key), f"{prefix}{key}.")
    elif a != b:
        yield prefix.rstrip("."), a, b
