"""Named schedules: scalars such as a KL weight beta or a relaxation temperature tau, annealed over training.

``trainer.schedules`` maps a name to a curve. At training step s (batches
from 0) of a curve of length T steps (``steps``, default: the whole run),
with f = min(s / max(T - 1, 1), 1) so that the last step reaches ``end``:

    constant             v_s = start
    linear               v_s = start + (end - start) f
    cosine               v_s = end + (start - end) (1 + cos(pi f)) / 2
    exponential          v_s = start (end / start)^f
    exponential_floor    v_s = max(floor, start exp(-rate P floor(s / P)))   (P = period)
    warmup               v_s = end min(s / T, 1)

``exponential_floor`` anneals as the Gumbel-softmax paper does (tau =
max(0.5, exp(-r t)), updated every P steps); ``warmup`` is the ramp from 0
that KL warm-up uses (beta reaches ``end`` after T steps and holds there).
A model class declares its defaults in ``default_schedules``; the user's
``trainer.schedules.<name>`` keys override them one by one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, model_validator

from ..config import Config, validate
from ..errors import ConfigError, closest

Kind = Literal["constant", "linear", "cosine", "exponential", "exponential_floor", "warmup"]


class Schedule(Config):
    """One annealed scalar; see the module docstring for each kind's formula."""

    kind: Kind = Field(
        "constant", description="Shape: constant, linear, cosine, exponential, exponential_floor or warmup"
    )
    start: float = Field(1.0, description="Value at step 0 (unused by warmup, which starts at 0)")
    end: float = Field(0.0, description="Value at the curve's last step (warmup: the value it climbs to)")
    steps: int | None = Field(
        None, ge=1, description="Length T of the curve in training steps (default: the whole run)"
    )
    rate: float = Field(1e-3, ge=0.0, description="exponential_floor: decay r per step")
    floor: float = Field(0.0, description="exponential_floor: the value never falls below this")
    period: int = Field(1, ge=1, description="exponential_floor: steps P between updates")

    @model_validator(mode="after")
    def _positive_for_exponential(self) -> Schedule:
        if self.kind == "exponential" and (self.start <= 0 or self.end <= 0):
            raise ValueError(
                f"exponential needs start > 0 and end > 0 (got start={self.start}, end={self.end}); "
                "use kind=exponential_floor or linear to reach 0"
            )
        return self

    def at(self, step: int, total_steps: int) -> float:
        """v_s for training step ``step`` of a run of ``total_steps`` steps."""
        length = self.steps or total_steps
        if self.kind == "constant":
            return self.start
        if self.kind == "warmup":
            return self.end * min(step / max(length, 1), 1.0)
        if self.kind == "exponential_floor":
            held = self.period * (step // self.period)
            return max(self.floor, self.start * math.exp(-self.rate * held))
        f = min(step / max(length - 1, 1), 1.0)
        if self.kind == "linear":
            return self.start + (self.end - self.start) * f
        if self.kind == "cosine":
            return self.end + (self.start - self.end) * 0.5 * (1.0 + math.cos(math.pi * f))
        return self.start * (self.end / self.start) ** f


def resolve_schedules(
    defaults: Mapping[str, Mapping[str, Any]], configured: Mapping[str, Schedule]
) -> dict[str, Schedule]:
    """A model's ``default_schedules`` with the user's keys laid over them, key by key."""
    out: dict[str, Schedule] = {}
    for name in {**defaults, **configured}:
        values = dict(defaults.get(name, {}))
        user = configured.get(name)
        if user is not None:
            values.update(user.model_dump(include=user.model_fields_set))
        out[name] = validate(Schedule, values, f"trainer.schedules.{name}")
    return out


def check_model_reads(model: Any, configured: Mapping[str, Any]) -> None:
    """An automatic-mode model reads a schedule only through an attribute of its name: refuse one it cannot read.

    (A manual-mode model may read any name with ``ctx.schedule``, so its names are not checked here.)
    """
    readable = set(getattr(model, "default_schedules", None) or {})
    for name in configured:
        if name not in readable and not hasattr(model, name):
            close = closest(name, sorted(readable), n=1)
            hint = f"did you mean trainer.schedules.{close[0]}? " if close else ""
            raise ConfigError(
                f"trainer.schedules.{name}: model {type(model).__name__} has no attribute {name!r} for the schedule to set "
                f"and declares {sorted(readable) or 'no schedules'}; {hint}remove it or name one the model reads"
            )


def unknown_schedule(name: str, known: Mapping[str, Any]) -> ConfigError:
    return ConfigError(
        f"no schedule named {name!r}; this run has {sorted(known) or 'none'}. Declare it in the model's "
        f"default_schedules or set it: --set trainer.schedules.{name}.kind=linear --set trainer.schedules.{name}.start=0 ..."
    )
