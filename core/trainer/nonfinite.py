"""Non-finite losses and parameters: stop, skip or ignore (``trainer.on_nonfinite``).

Gradient descent theta <- theta - eta * grad L(theta) (chapter 2) turns one
NaN or infinite loss into NaN parameters, and every later step keeps them so.
The trainer therefore never writes a checkpoint or the final weights from
non-finite parameters, and reacts to a non-finite loss as configured:

``stop`` (default)
    stop with a message naming the step and the last good checkpoint; nothing
    on disk is overwritten, the exit status is non-zero. The check costs no
    device sync: it reads the loss values the trainer already syncs every
    ``log_every`` steps, and checks the pending ones before each checkpoint.
``skip``
    leave the parameters untouched for that step (no optimiser step, the
    gradients dropped), count it (``train/skipped_steps``) and carry on. This
    checks every loss, and the gradients, before the step: one sync per step.
``ignore``
    no checks at all: train on, and save, whatever the values.

A loss can also run away while staying finite (Adam with ``--lr 1e6``: each
step moves every weight by about eta). That is not always wrong, so it is not
stopped, but it is said once: when a logged training loss exceeds
``DIVERGENCE`` times the first step's (and 1), a notice names the step and the
values.

``metrics.json`` is strict JSON whatever happens: a non-finite value is
written as ``null``.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..errors import DpzooError
from .recovery import candidates

DIVERGENCE = 1e4  # growth of the logged training loss over its first value that earns a notice
FIX = (
    "lower the learning rate (--lr), clip gradients (--set trainer.grad_clip=1.0), "
    "or skip such steps (--set trainer.on_nonfinite=skip)"
)


class NonFiniteError(DpzooError):
    """Training met a NaN or infinite loss or parameter and stopped without saving it."""

    exit_code = 3


def last_good(run_dir: Path | None) -> str:
    """Where training can be resumed from, in words."""
    found = candidates(run_dir / "checkpoints") if run_dir is not None else []
    steps = [p for p in found if p.name != "last.json"]
    if not steps:
        return "no checkpoint was written before it"
    return f"the last good checkpoint is {steps[0]}"


def first_nonfinite(values: list, first_step: int) -> int | None:
    """The step of the first non-finite value in ``values`` (one per step from ``first_step``), if any."""
    if not values:
        return None
    stacked = torch.stack(
        [v.detach().float().reshape(()) if isinstance(v, Tensor) else torch.tensor(float(v)) for v in values]
    )
    bad = (~torch.isfinite(stacked)).nonzero()
    return None if len(bad) == 0 else first_step + int(bad[0])


def nonfinite_parameters(model: nn.Module) -> list[str]:
    """Names of the parameters and buffers holding a NaN or an infinity."""
    return [
        name
        for name, tensor in (*model.named_parameters(), *model.named_buffers())
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all())
    ]


def finite_gradients(parameters: Iterable[nn.Parameter]) -> bool:
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return True
    return bool(torch.isfinite(torch.stack([torch.linalg.vector_norm(g.float()) for g in grads])).all())


class NonFiniteGuard:
    """The trainer's ``on_nonfinite`` policy and its count of skipped steps."""

    def __init__(self, mode: str, run_dir: Path | None):
        self.mode, self.run_dir = mode, run_dir
        self.skipped = 0
        self.settle: Callable[[], None] | None = None  # waits for checkpoints still being written, to name the last
        self._first_loss: float | None = None
        self._warned = False

    def watch(self, loss: float, step: int, pending: list) -> None:
        """Say once when the logged training loss has grown ``DIVERGENCE``-fold over the first step's.

        ``pending`` holds the losses behind ``loss``; the first log reads its first one (the
        untrained loss: by the first log a runaway run may already be far gone).
        """
        if self._first_loss is None and pending:
            first = float(pending[0].detach()) if isinstance(pending[0], Tensor) else float(pending[0])
            self._first_loss = first if math.isfinite(first) else None
        if self._warned or self._first_loss is None or not math.isfinite(loss):
            return
        if loss > DIVERGENCE * max(abs(self._first_loss), 1.0):
            self._warned = True
            print(
                f"dpzoo: step {step}: the training loss is diverging ({self._first_loss:.4g} at the first step, "
                f"{loss:.4g} now); lower the learning rate (--lr) or clip gradients (--set trainer.grad_clip=1.0)",
                file=sys.stderr,
                flush=True,
            )

    def last_good(self) -> str:
        """Where training can be resumed from, once every checkpoint taken has been written."""
        if self.settle is not None:
            self.settle()
        return last_good(self.run_dir)

    @property
    def checks_every_step(self) -> bool:
        return self.mode == "skip"

    def step_is_finite(self, loss: Tensor) -> bool:
        """``skip`` mode, before backward: whether this loss may update the parameters."""
        if bool(torch.isfinite(loss.detach()).all()):
            return True
        self.skipped += 1
        return False

    def gradients_are_finite(self, parameters: Iterable[nn.Parameter]) -> bool:
        """``skip`` mode, after backward: a finite loss can still overflow its gradients."""
        if finite_gradients(parameters):
            return True
        self.skipped += 1
        return False

    def check_losses(self, pending: list, step: int) -> None:
        """``stop`` mode: raise if any loss since the last check is non-finite (``pending`` ends at ``step``)."""
        if self.mode != "stop":
            return
        bad = first_nonfinite(pending, step - len(pending) + 1)
        if bad is not None:
            raise NonFiniteError(
                f"step {bad}: the training loss is not finite (NaN or infinite); training stopped and nothing was "
                f"saved over earlier files ({self.last_good()}); {FIX}"
            )

    def check_parameters(self, model: nn.Module, step: int, what: str) -> None:
        """``stop`` and ``skip``: refuse to write ``what`` from NaN or infinite parameters."""
        bad = [] if self.mode == "ignore" else nonfinite_parameters(model)
        if bad:
            shown = ", ".join(bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
            raise NonFiniteError(
                f"step {step}: parameters {shown} are not finite; the {what} was not written "
                f"({self.last_good()}); {FIX}"
            )


def json_safe(value: Any) -> Any:
    """``value`` with every NaN or infinity replaced by ``None``, so ``json.dumps(allow_nan=False)`` holds."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value
