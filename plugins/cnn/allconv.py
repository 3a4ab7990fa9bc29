"""The all-convolutional network (chapter 11): strided convolutions in place of pooling.

Springenberg et al. (2015) replace each pooling by a convolution of stride 2,
so that the network learns how to downsample. Each stage is
    h = relu(BN(W_b * relu(BN(W_a * h_prev)))),  W_b with stride 2,
and the classifier is convolutional too: a 1x1 convolution gives one map per
class and global average pooling turns each map into a logit. Global pooling
makes the output invariant to circular shifts of the input by multiples of
the total stride 2^stages (exactly so with padding_mode='circular').
"""

from __future__ import annotations

from pydantic import Field
from torch import Tensor, nn

from .base import ConvClassifier, ConvConfig


class AllConvConfig(ConvConfig):
    channels: list[int] = Field(
        [32, 64], min_length=1, description="Channels of each stage; each halves the image with a stride-2 convolution"
    )
    kernel_size: int = Field(3, ge=1, description="Side of the square convolution kernels (padding k // 2)")
    batch_norm: bool = Field(True, description="Batch normalisation after each convolution")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout probability after each stage")


class AllConvNet(ConvClassifier):
    """Convolutions only: stride-2 convolutions downsample, a 1x1 convolution and global pooling classify."""

    Config = AllConvConfig
    registered_name = "allconv"

    def __init__(self, config: AllConvConfig | None = None, **overrides):
        super().__init__(config, **overrides)
        c = self.config
        stages, c_in = [], self.image_shape[0]
        for c_out in c.channels:
            # dropout is always a layer (p = 0 is the identity) so that weights load whatever p is
            stages += [self._conv(c_in, c_out, stride=1), self._conv(c_out, c_out, stride=2), nn.Dropout(c.dropout)]
            c_in = c_out
        self.features = nn.Sequential(*stages)
        self.classifier = nn.Conv2d(c_in, c.num_classes, kernel_size=1)

    def _conv(self, c_in: int, c_out: int, stride: int) -> nn.Sequential:
        c = self.config
        conv = nn.Conv2d(
            c_in,
            c_out,
            c.kernel_size,
            stride=stride,
            padding=c.kernel_size // 2,
            padding_mode=c.padding_mode,
            bias=not c.batch_norm,
        )
        return nn.Sequential(conv, nn.BatchNorm2d(c_out) if c.batch_norm else nn.Identity(), nn.ReLU())

    def forward(self, batch) -> Tensor:
        class_maps = self.classifier(self.features(self.images(batch)))
        return class_maps.mean(dim=(2, 3))  # global average pooling: one logit per class map
