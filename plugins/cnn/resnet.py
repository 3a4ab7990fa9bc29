"""A small residual network (chapter 7's remedy for depth, chapter 11's convolutions).

A residual block adds a learned correction to an identity shortcut,
    x_{l+1} = S(x_l) + F(x_l),
    F(x) = W_2 * relu(BN(W_1 * relu(BN(x)))),
the "pre-activation" form of He et al., "Identity Mappings in Deep Residual
Networks" (2016). Nothing follows the addition, so a block whose residual
branch F is zero is exactly the identity, and the gradient reaches early
layers through the sum of the shortcuts. S is the identity or, where a stage
halves the image and doubles the channels, the identity sampled at stride 2
and padded with zero channels (option A of the original ResNet paper; it adds
no parameters). With ``shortcut=False`` the same layers form the plain
network of equal depth, x_{l+1} = F(x_l): the book's comparison of plain and
residual training curves (benchmarks/plain_vs_residual.py).

Each stage after the first doubles the width and halves the image. Two
stages by default: an 8x8 digit has little left to pool after 8 -> 4 (a
third stage, 4 -> 2, costs accuracy on digits), and MNIST goes 28 -> 14. A
final BN-ReLU, global average pooling, dropout and a linear layer give the
logits. Depth counts the weight layers as He et al. do: 1 stem
convolution + 2 per block + 1 linear.
"""

from __future__ import annotations

import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from .base import ConvClassifier, ConvConfig


class ResNetConfig(ConvConfig):
    width: int = Field(16, ge=1, description="Channels of the first stage; each later stage doubles them")
    blocks: list[int] = Field(
        [2, 2], min_length=1, description="Residual blocks in each stage; stages after the first halve the image"
    )
    shortcut: bool = Field(True, description="Identity shortcuts; false gives the plain network of the same depth")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout probability before the final linear layer")


class ResidualBlock(nn.Module):
    """x -> S(x) + F(x) with a pre-activation branch F; F(x) alone when ``shortcut`` is off."""

    def __init__(self, c_in: int, c_out: int, stride: int, shortcut: bool, padding_mode: str = "zeros"):
        super().__init__()
        self.stride, self.extra_channels, self.shortcut = stride, c_out - c_in, shortcut
        self.norm1 = nn.BatchNorm2d(c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, padding_mode=padding_mode, bias=False)
        self.norm2 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, padding_mode=padding_mode, bias=False)

    def residual(self, x: Tensor) -> Tensor:
        """F(x) = W_2 * relu(BN(W_1 * relu(BN(x))))."""
        return self.conv2(F.relu(self.norm2(self.conv1(F.relu(self.norm1(x))))))

    def identity(self, x: Tensor) -> Tensor:
        """S(x): x itself, or x at stride 2 with zero channels appended when the shape changes."""
        x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.extra_channels)) if self.extra_channels else x

    def forward(self, x: Tensor) -> Tensor:
        f = self.residual(x)
        return self.identity(x) + f if self.shortcut else f


class ResNet(ConvClassifier):
    """Stem convolution, stages of residual blocks, global average pooling, linear classifier."""

    Config = ResNetConfig
    registered_name = "resnet"

    def __init__(self, config: ResNetConfig | None = None, **overrides):
        super().__init__(config, **overrides)
        c = self.config
        self.stem = nn.Conv2d(self.image_shape[0], c.width, 3, padding=1, padding_mode=c.padding_mode, bias=False)
        blocks, c_in = [], c.width
        for stage, count in enumerate(c.blocks):
            c_out = c.width * 2**stage
            for i in range(count):
                stride = 2 if stage > 0 and i == 0 else 1
                blocks.append(ResidualBlock(c_in, c_out, stride, c.shortcut, c.padding_mode))
                c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.norm = nn.BatchNorm2d(c_in)
        self.dropout = nn.Dropout(c.dropout)
        self.linear = nn.Linear(c_in, c.num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):  # He initialisation, as in the paper
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    @property
    def depth(self) -> int:
        """Weight layers: the stem, two per block, the linear layer."""
        return 2 + 2 * sum(self.config.blocks)

    def forward(self, batch) -> Tensor:
        h = self.blocks(self.stem(self.images(batch)))
        h = F.relu(self.norm(h)).mean(dim=(2, 3))  # global average pooling
        return self.linear(self.dropout(h))
