"""One optimiser's step: backward into its own parameters, accumulation, clipping, fp16 scaling, schedule.

Each optimiser keeps its own counts. With ``accumulate = k`` an optimiser's
gradients add up over k of its own calls (losses divided by k, so the sum is
the mean over the window), and it steps on the k-th; its learning-rate
schedule steps right after, so a schedule is sized and stepped in that
optimiser's steps, however many times a batch calls it.

* ``backward(inputs=...)``: when a run has several optimisers, each loss
  reaches only its own optimiser's parameters (a generator's loss leaves the
  discriminator's gradients alone, and its weight-gradient work is skipped).
* fp16: one ``GradScaler`` per optimiser, updated once after each real step,
  so a window's micro-batches are all scaled alike and an optimiser that
  skips a batch, or steps twice in one, never updates a scaler it did not use.
* Data-parallel manual mode: gradients are averaged across processes once per
  step (micro-batches of a window stay local, as ``no_sync`` does for DDP).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from ..errors import ConfigError
from ..interfaces import LossOutput
from .distributed import Distributed

if TYPE_CHECKING:
    from .nonfinite import NonFiniteGuard


class Stepper:
    """The optimisers of one run and the counts, scalers and schedules that go with them."""

    def __init__(
        self,
        optimisers: dict[str, torch.optim.Optimizer],
        schedulers: dict[str, Any],
        *,
        accumulate: int = 1,
        grad_clip: float | None = None,
        fp16: bool = False,
        device: torch.device = torch.device("cpu"),
        distributed: Distributed | None = None,
        average_gradients: bool = False,
    ):
        self.optimisers = optimisers
        self.params = {n: [p for g in o.param_groups for p in g["params"]] for n, o in optimisers.items()}
        self.schedulers = schedulers  # stepped per optimiser step (plateau schedules are the trainer's)
        self.accumulate, self.grad_clip = accumulate, grad_clip
        self.scalers = {n: torch.amp.GradScaler(device.type) for n in optimisers} if fp16 else {}
        self.distributed = distributed
        self.average_gradients = average_gradients and distributed is not None and distributed.enabled
        self.calls = dict.fromkeys(optimisers, 0)  # losses given to each optimiser
        self.steps = dict.fromkeys(optimisers, 0)  # real optimiser steps
        self._several = len(optimisers) > 1
        self.guard: NonFiniteGuard | None = None  # skips non-finite steps (trainer.on_nonfinite=skip)

    def completes(self, name: str) -> bool:
        """Whether the next call for ``name`` ends its accumulation window (and so steps)."""
        return (self.calls[name] + 1) % self.accumulate == 0

    @property
    def mid_window(self) -> bool:
        """Whether some optimiser holds gradients it has not stepped on yet (no checkpoint can hold them)."""
        return self.accumulate > 1 and any(c % self.accumulate for c in self.calls.values())

    def optimise(self, name: str, loss: Tensor | LossOutput) -> None:
        try:
            optimiser = self.optimisers[name]
        except KeyError:
            raise ConfigError(
                f"ctx.optimise({name!r}, ...): no optimiser named {name!r}; this run has {sorted(self.optimisers)} "
                "(the names come from the model's parameter_groups())"
            ) from None
        if isinstance(loss, LossOutput):
            loss = loss.total
        k = self.accumulate
        call = self.calls[name]
        self.calls[name] = call + 1
        if k > 1:
            loss = loss / k
        if call % k == 0:  # a new window: the previous step's gradients are spent
            optimiser.zero_grad(set_to_none=True)
        if self.guard is not None and not self.guard.step_is_finite(loss):
            optimiser.zero_grad(set_to_none=True)  # this loss never reaches the parameters
            return
        scaler = self.scalers.get(name)
        if scaler is not None:
            loss = scaler.scale(loss)
        loss.backward(inputs=self.params[name] if self._several else None)
        if (call + 1) % k:
            return
        params = self.params[name]
        if self.average_gradients and self.distributed is not None:  # average_gradients implies it (__init__)
            self.distributed.average_gradients(params)
        if self.guard is not None and scaler is None and not self.guard.gradients_are_finite(params):
            optimiser.zero_grad(set_to_none=True)  # a finite loss whose gradients overflowed
            return
        if self.grad_clip is not None:
            if scaler is not None:
                scaler.unscale_(optimiser)
            nn.utils.clip_grad_norm_(params, self.grad_clip)
        if scaler is not None:
            scaler.step(optimiser)  # skipped by the scaler itself when a gradient is inf/NaN
            self.steps[name] += 1
            scaler.update()  # once per real step: the scale changes only between this optimiser's windows
        else:
            optimiser.step()
            self.steps[name] += 1
        scheduler = self.schedulers.get(name)
        if scheduler is not None:
            scheduler.step()

    # -- checkpoints -----------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "optimisers": {n: o.state_dict() for n, o in self.optimisers.items()},
            "kinds": {n: type(o).__name__ for n, o in self.optimisers.items()},
            "schedulers": {n: s.state_dict() for n, s in self.schedulers.items()},
            "scalers": {n: s.state_dict() for n, s in self.scalers.items()},
            "calls": dict(self.calls),
            "steps": dict(self.steps),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if set(self.optimisers) != set(state["optimisers"]):
            raise ConfigError(
                f"the checkpoint holds optimisers {sorted(state['optimisers'])} but this run has {sorted(self.optimisers)}; "
                "resume with the model and parameter groups the run was started with"
            )
        kinds = {n: type(o).__name__ for n, o in self.optimisers.items()}
        if kinds != state.get("kinds", kinds):
            raise ConfigError(
                f"the checkpoint's optimisers are {state['kinds']} but this run builds {kinds}; "
                "resume with the optimisers the run was started with, or start a new run"
            )
        for name, optimiser in self.optimisers.items():
            optimiser.load_state_dict(state["optimisers"][name])
        for name, scheduler in self.schedulers.items():
            scheduler.load_state_dict(state["schedulers"][name])
        for name, scaler in self.scalers.items():
            if name in state["scalers"]:
                scaler.load_state_dict(state["scalers"][name])
        self.calls.update(state["calls"])
        self.steps.update(state["steps"])
