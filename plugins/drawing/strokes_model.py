"""What the sketch models share: stroke options, rendering at the annealed sigma, media (section 1.3.5).

A model here produces ``Strokes`` (control points, half-widths r_k,
intensities c_k) and renders them with ``rasterise.render``. During training
sigma follows the trainer's named schedule ``sigma`` (wide strokes first, so
every pixel of the target pulls on some stroke, then sharp ones); in
evaluation the model renders at ``config.sigma``, the schedule's end by
default, so a loaded model scores as it was published.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from pydantic import Field
from torch import Tensor

import dpzoo
from dpzoo import media

from .rasterise import CONTROL_POINTS, Composition, Primitive, Strokes, render, render_hard

SIGMA_START, SIGMA_END = 2.0, 0.7  # pixels; the default anneal of the schedule named sigma


class StrokeConfig(dpzoo.Config):
    input_shape: list[int] | None = Field(
        None, description="Target image shape [1, H, W]; read from the data when unset"
    )
    primitive: Primitive = Field("cubic", description="Stroke kind: 'line', 'quadratic' or 'cubic' Bezier curve")
    strokes: int = Field(4, ge=1, description="Number of strokes K per image")
    segments: int = Field(8, ge=1, description="Chords each Bezier curve is flattened into (lines use one)")
    width: float = Field(1.0, ge=0.0, description="Stroke width 2 r in pixels (the initial width when learn_width)")
    learn_width: bool = Field(False, description="Learn each stroke's width")
    learn_intensity: bool = Field(False, description="Learn each stroke's intensity c_k in [0, 1] (else 1)")
    sigma: float = Field(
        SIGMA_END, gt=0.0, description="Falloff sigma in pixels for evaluation; training follows the 'sigma' schedule"
    )
    composition: Composition = Field(
        "soft_union", description="How strokes combine: 'soft_union' 1 - prod(1 - I_k) or 'soft_max'"
    )
    temperature: float = Field(0.1, gt=0.0, description="Temperature T of the soft maximum")


def inverse_softplus(y: float) -> float:
    return float(torch.log(torch.expm1(torch.tensor(y))))


class StrokeModel(dpzoo.Model):
    """Base: ``strokes(batch)`` is the subclass's; forward renders them as [N, 1, H, W]."""

    default_loss: ClassVar = {"name": "mse", "target": "x"}
    default_metrics: ClassVar = ("pixel_mse",)
    default_schedules: ClassVar = {"sigma": {"kind": "exponential", "start": SIGMA_START, "end": SIGMA_END}}
    registered_name: ClassVar[str]

    def __init__(self, config: dpzoo.Config | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        c = self.config
        if c.input_shape is None:
            raise dpzoo.ConfigError(
                f"model {self.registered_name!r} needs input_shape: set it (input_shape=[1, 28, 28]) or train with --data"
            )
        if len(c.input_shape) != 3 or c.input_shape[0] != 1:
            raise dpzoo.ConfigError(
                f"model {self.registered_name!r} draws grey images: input_shape must be [1, H, W], got {c.input_shape}"
            )
        self.size: tuple[int, int] = (c.input_shape[1], c.input_shape[2])
        self.control_points = CONTROL_POINTS[c.primitive]
        self.sigma = c.sigma  # the trainer sets it before every training batch

    def strokes(self, batch) -> Strokes:  # pragma: no cover - interface
        raise NotImplementedError

    def half_widths(self, raw: Tensor | None, like: Tensor) -> Tensor:
        """r_k = softplus(raw) when widths are learnt, else width / 2, [N, K]."""
        if raw is None:
            return torch.full(like.shape[:2], self.config.width / 2, device=like.device, dtype=like.dtype)
        return torch.nn.functional.softplus(raw)

    def intensities(self, raw: Tensor | None, like: Tensor) -> Tensor:
        """c_k = sigmoid(raw) when intensities are learnt, else 1, [N, K]."""
        if raw is None:
            return torch.ones(like.shape[:2], device=like.device, dtype=like.dtype)
        return torch.sigmoid(raw)

    def render(self, strokes: Strokes) -> Tensor:
        c = self.config
        sigma = self.sigma if self.training else c.sigma
        return render(strokes, self.size, sigma, c.composition, c.segments, c.temperature)

    def forward(self, batch) -> Tensor:
        return self.render(self.strokes(batch))

    def media_batch(self, ctx, n: int) -> dict[str, Tensor]:
        """The first ``n`` validation examples, with what ``strokes`` reads from a batch."""
        _, x = ctx.predict("validation", target="x")
        return {"x": x[:n]}

    @torch.no_grad()
    def log_media(self, ctx) -> None:
        """Targets, renders (soft and hard) and the strokes drawn over the targets, for up to 16 validation images."""
        from .overlay import overlay

        batch = self.media_batch(ctx, 16)
        strokes = self.strokes(batch)
        target = self.inputs(batch)
        ctx.log_image("media/target", media.image_grid(target))
        ctx.log_image("media/render", media.image_grid(self.render(strokes)))
        ctx.log_image(
            "media/hard_render",
            media.image_grid(render_hard(strokes, self.size, self.config.segments, self.config.composition)),
        )
        ctx.log_image("media/strokes", media.image_grid(overlay(target, strokes, self.config.segments)))
