"""A learned sketcher (section 1.3.5, chapters 11 and 17): an auto-encoder whose decoder is the rasteriser.

A convolutional encoder maps an image x to the parameters of K strokes in
one pass,

    h = f_theta(x),  P = sigmoid(W_P h + b_P),  r = softplus(W_r h + b_r),  c = sigmoid(W_c h + b_c),

and the fixed, differentiable rasteriser decodes them, x_hat = render(P, r, c; sigma).
Training minimises |x_hat - x|^2 through the rasteriser, so the code is
forced to be a drawing: K P 2 numbers that mean stroke coordinates.
"""

from __future__ import annotations

from pydantic import Field
from torch import nn

from .rasterise import Strokes
from .strokes_model import StrokeConfig, StrokeModel, inverse_softplus


class SketcherConfig(StrokeConfig):
    channels: list[int] = Field([16, 32], min_length=1, description="Channels of each stride-2 3x3 convolution")
    hidden: int = Field(128, ge=1, description="Width of the fully connected layer before the stroke heads")


class Sketcher(StrokeModel):
    """Convolutional encoder -> K strokes -> soft rendering."""

    Config = SketcherConfig
    registered_name = "sketcher"

    def __init__(self, config: SketcherConfig | None = None, **overrides) -> None:
        super().__init__(config, **overrides)
        c = self.config
        layers: list[nn.Module] = []
        channels, height, width = 1, *self.size
        for c_out in c.channels:
            layers += [nn.Conv2d(channels, c_out, 3, stride=2, padding=1), nn.ReLU()]
            channels, height, width = c_out, (height + 1) // 2, (width + 1) // 2  # floor((n + 2 - 3) / 2) + 1
        layers += [nn.Flatten(), nn.Linear(channels * height * width, c.hidden), nn.ReLU()]
        self.encoder = nn.Sequential(*layers)
        self.point_head = nn.Linear(c.hidden, c.strokes * self.control_points * 2)
        self.width_head = nn.Linear(c.hidden, c.strokes) if c.learn_width else None
        self.intensity_head = nn.Linear(c.hidden, c.strokes) if c.learn_intensity else None
        if self.width_head is not None:  # start at the configured width
            nn.init.zeros_(self.width_head.weight)
            nn.init.constant_(self.width_head.bias, inverse_softplus(max(c.width, 1e-3) / 2))

    def strokes(self, batch) -> Strokes:
        x = self.inputs(batch)
        x = x.reshape(x.shape[0], 1, *self.size).float()
        h = self.encoder(x)
        points = self.point_head(h).sigmoid().reshape(x.shape[0], self.config.strokes, self.control_points, 2)
        head = lambda layer: None if layer is None else layer(h)  # noqa: E731
        return Strokes(
            points, self.half_widths(head(self.width_head), points), self.intensities(head(self.intensity_head), points)
        )

    def code_size(self) -> int:
        """Numbers in the code between encoder and decoder: the size a comparable auto-encoder's bottleneck has."""
        c = self.config
        return c.strokes * (self.control_points * 2 + int(c.learn_width) + int(c.learn_intensity))
