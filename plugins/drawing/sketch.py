"""Sketching by optimisation (section 1.3.5): the parameters are the strokes themselves.

For target images y_1..y_M the model holds, per image m, K strokes with
control points P_mk in [0, 1]^2 (and, optionally, half-widths r_mk and
intensities c_mk), and minimises

    L = 1/M sum_m |render(P_m; sigma) - y_m|^2

by gradient descent through the rasteriser, with sigma annealed by the
trainer's schedule ``sigma``. A batch names its images by the column ``i``
(the dataset ``sketch_targets`` provides it); nothing is learnt that would
carry over to a new image: that is what ``sketcher`` does.
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import Tensor, nn

import dpzoo

from .rasterise import Strokes
from .strokes_model import StrokeConfig, StrokeModel, inverse_softplus


class SketchConfig(StrokeConfig):
    num_images: int | None = Field(None, ge=1, description="Number of target images M; read from the data when unset")
    spread: float = Field(0.3, gt=0.0, le=0.5, description="Initial control points are uniform in 0.5 +- spread")
    seed: int = Field(0, description="Seed of the initial control points")


class Sketch(StrokeModel):
    """K strokes per target image, optimised directly."""

    Config = SketchConfig
    registered_name = "sketch"

    def __init__(self, config: SketchConfig | None = None, **overrides) -> None:
        super().__init__(config, **overrides)
        c = self.config
        if c.num_images is None:
            raise dpzoo.ConfigError("model 'sketch' needs num_images: set it or train with --data sketch_targets")
        generator = torch.Generator().manual_seed(c.seed)
        shape = (c.num_images, c.strokes, self.control_points, 2)
        self.points = nn.Parameter(0.5 + c.spread * (2 * torch.rand(shape, generator=generator) - 1))
        width = torch.full((c.num_images, c.strokes), inverse_softplus(max(c.width, 1e-3) / 2))
        self.width_logits = nn.Parameter(width) if c.learn_width else None
        self.intensity_logits = nn.Parameter(torch.full((c.num_images, c.strokes), 2.0)) if c.learn_intensity else None

    def strokes(self, batch) -> Strokes:
        if "i" not in batch:
            raise dpzoo.ConfigError(
                "model 'sketch' reads which target each example is from batch['i']; train it on data that has an "
                "'i' column (--data sketch_targets)"
            )
        i = batch["i"].long()
        points = self.points[i]
        pick = lambda raw: None if raw is None else raw[i]  # noqa: E731 - rows of this batch's images
        return Strokes(
            points,
            self.half_widths(pick(self.width_logits), points),
            self.intensities(pick(self.intensity_logits), points),
        )

    def media_batch(self, ctx, n: int) -> dict[str, Tensor]:
        _, x = ctx.predict("validation", target="x")
        _, i = ctx.predict("validation", target="i")
        return {"x": x[:n], "i": i[:n]}
