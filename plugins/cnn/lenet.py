"""A LeNet-style convolutional network (chapter 11; dropout, equation 7.1).

Each stage is a convolution, a ReLU and a pooling:
    h_l = pool(relu(W_l * h_{l-1} + b_l)),  h_0 = x,
where ``*`` is the cross-correlation PyTorch calls convolution. The
convolution is translation-equivariant (shift the input and the feature map
shifts with it); pooling trades position for a little invariance. The last
feature map is flattened and fed to fully connected layers. Dropout masks the
input of each of them, a ⊙ m with a fresh random binary mask m for every
batch, in training only (equation 7.1; PyTorch also scales the kept units by
1 / (1 - p), so evaluation needs no correction).

Padding k // 2 keeps the image size through each convolution, so only the
poolings shrink it: 8x8 digits go 8 -> 4 -> 2 with the default two stages,
28x28 MNIST 28 -> 14 -> 7.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from torch import Tensor, nn

import dpzoo

from .base import ConvClassifier, ConvConfig, output_size


class LeNetConfig(ConvConfig):
    channels: list[int] = Field(
        [32, 64], min_length=1, description="Output channels of each convolution; each is followed by a pooling"
    )
    kernel_size: int = Field(3, ge=1, description="Side of the square convolution kernels (padding k // 2)")
    pool: Literal["max", "avg"] = Field("max", description="Pooling after each convolution")
    pool_size: int = Field(2, ge=1, description="Side and stride of each pooling window; 1 turns pooling off")
    hidden: list[int] = Field([128], description="Widths of the fully connected hidden layers")
    dropout: float = Field(0.25, ge=0.0, lt=1.0, description="Dropout probability before each fully connected layer")
    batch_norm: bool = Field(False, description="Batch normalisation after each convolution")


class LeNet(ConvClassifier):
    """Convolution-pooling stages, then a fully connected classifier."""

    Config = LeNetConfig
    registered_name = "cnn"

    def __init__(self, config: LeNetConfig | None = None, **overrides):
        super().__init__(config, **overrides)
        c = self.config
        k, p = c.kernel_size, c.kernel_size // 2
        channels, height, width = self.image_shape
        stages = []
        for c_out in c.channels:
            height, width = output_size(height, k, padding=p), output_size(width, k, padding=p)
            height, width = height // c.pool_size, width // c.pool_size
            if min(height, width) < 1:
                raise dpzoo.ConfigError(
                    f"model 'cnn': a {self.image_shape[1]}x{self.image_shape[2]} input is pooled to nothing by "
                    f"{len(c.channels)} poolings of {c.pool_size}; use fewer channels entries or a smaller pool_size"
                )
            stages.append(self._stage(channels, c_out))
            channels = c_out
        self.features = nn.Sequential(*stages)
        widths = [channels * height * width, *c.hidden]
        layers: list[nn.Module] = []
        for d_in, d_out in zip(widths, widths[1:]):
            layers += [nn.Dropout(c.dropout), nn.Linear(d_in, d_out), nn.ReLU()]
        layers += [nn.Dropout(c.dropout), nn.Linear(widths[-1], c.num_classes)]
        self.classifier = nn.Sequential(*layers)

    def _stage(self, c_in: int, c_out: int) -> nn.Sequential:
        c = self.config
        conv = nn.Conv2d(
            c_in, c_out, c.kernel_size, padding=c.kernel_size // 2, padding_mode=c.padding_mode, bias=not c.batch_norm
        )
        norm = nn.BatchNorm2d(c_out) if c.batch_norm else nn.Identity()
        pool_type = nn.MaxPool2d if c.pool == "max" else nn.AvgPool2d
        pool = pool_type(c.pool_size) if c.pool_size > 1 else nn.Identity()
        return nn.Sequential(conv, norm, nn.ReLU(), pool)

    def forward(self, batch) -> Tensor:
        h = self.features(self.images(batch))
        return self.classifier(h.flatten(1))
