"""Resuming a run with changed options: what may change is applied and recorded, the rest refused.

A resumed run must continue the run it names: the same model, data, loss,
metrics, seed and batches, or the checkpoint's state would not fit (a changed
model size) or the result would be neither run (a changed seed re-shuffles
later epochs). What only extends or steers the remaining steps may change:
the budget (``trainer.epochs``, ``trainer.max_steps``), the learning rate, and
how the run is watched (logging, checkpoints, device, threads). Each change is
written to ``config.json`` and the resume's command appended to its
``resumes`` history, so the file always says what the run did.

A finished run (it has ``metrics.json``) resumed without a larger budget is
left untouched: ``RunFinished`` says so.
"""

from __future__ import annotations

import fnmatch
import json
import time
from pathlib import Path
from typing import Any

from .errors import ConfigError, DpzooError

# dotted keys a resume may change (fnmatch patterns)
MUTABLE = (
    "trainer.epochs",
    "trainer.max_steps",
    "optimiser.lr",
    "optimisers.*.lr",
    "logdir",
    "trainer.progress",
    "trainer.log_every",
    "trainer.checkpoint_seconds",
    "trainer.checkpoint_every",
    "trainer.checkpoint_epochs",
    "trainer.keep_checkpoints",
    "trainer.threads",
    "trainer.device",
    "trainer.eval_batch_size",
    "trainer.test",
    "trainer.on_nonfinite",
)
SECTIONS = ("model", "data", "loss", "optimiser", "scheduler")


class RunFinished(DpzooError):
    """Resuming a finished run with nothing more to do; nothing was changed."""

    exit_code = 0


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; lists and scalars are leaves."""
    if not isinstance(tree, dict) or (prefix and not tree):
        return {prefix[:-1]: tree}
    out: dict[str, Any] = {}
    for key, value in tree.items():
        out.update(flatten(value, f"{prefix}{key}."))
    return out


def _sections(config: dict[str, Any]) -> dict[str, Any]:
    """Section shorthands spelt out: ``{"data": "digits"}`` -> ``{"data": {"name": "digits"}}``."""
    return {k: ({"name": v} if k in SECTIONS and isinstance(v, str) else v) for k, v in config.items()}


def changes(saved: dict[str, Any], overrides: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """The options ``overrides`` changes: dotted key -> (saved value, new value); refuses what may not change."""
    old, new = flatten(_sections(saved)), flatten(_sections(overrides))
    changed = {key: (old.get(key), value) for key, value in new.items() if key != "logdir" and old.get(key) != value}
    refused = {k: v for k, v in changed.items() if not any(fnmatch.fnmatchcase(k, p) for p in MUTABLE)}
    if refused:
        diff = "; ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in sorted(refused.items()))
        raise ConfigError(
            f"a resumed run keeps its model, data, loss, seed and batches; these would change: {diff}. "
            "Drop them from the command, or start a new run (without --resume) to train with them. "
            "A resume may change: " + ", ".join(MUTABLE)
        )
    if saved.get("scheduler") and any(fnmatch.fnmatchcase(k, "optimiser*.lr") for k in changed):
        raise ConfigError(
            f"this run's learning rate follows its scheduler {saved['scheduler'].get('name')!r}; "
            "a resume cannot change --lr under a scheduler: drop --lr or start a new run"
        )
    return changed


def finished_or_continue(run_dir: Path, config: dict[str, Any], changed: dict[str, Any]) -> None:
    """Raise ``RunFinished`` when the run has its final metrics and the budget does not grow past them."""
    metrics_path = run_dir / "metrics.json"
    if not metrics_path.exists():
        return
    done = json.loads(metrics_path.read_text())
    trainer = config.get("trainer", {})
    if trainer.get("max_steps") is not None:
        more = trainer["max_steps"] > done.get("step", 0)
    else:
        more = trainer.get("epochs", 0) > done.get("epoch", 0)
    if not (more and {"trainer.epochs", "trainer.max_steps"} & set(changed)):
        raise RunFinished(
            f"run {run_dir} is finished (step {done.get('step')}, epoch {done.get('epoch')}); nothing was changed. "
            "To train it further give a larger --epochs or --max-steps with --resume"
        )


def lr_setter(changed: dict[str, tuple[Any, Any]]):
    """A ``Trainer.on_restore`` hook that applies a changed learning rate over the checkpoint's."""
    rates = {key: new for key, (_, new) in changed.items() if key.endswith(".lr")}

    def apply(trainer) -> None:
        for name, optimiser in trainer.optimisers.items():
            lr = rates.get(f"optimisers.{name}.lr", rates.get("optimiser.lr"))
            if lr is not None:
                for group in optimiser.param_groups:
                    group["lr"] = lr

    return apply


def record(run_dir: Path, resolved: dict[str, Any], changed: dict[str, Any], command: str | None) -> dict[str, Any]:
    """``config.json`` with the changed options applied and this resume appended to ``resumes``."""
    from .files import atomic_write_bytes

    path = run_dir / "config.json"
    saved = json.loads(path.read_text())
    updated = {**saved, **{k: v for k, v in resolved.items() if k not in {"logdir", "run_name"}}}
    updated["resumes"] = [
        *saved.get("resumes", []),
        {
            "command": command,
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "changed": {k: [a, b] for k, (a, b) in sorted(changed.items())},
        },
    ]
    atomic_write_bytes(path, json.dumps(updated, indent=2).encode())
    return updated
