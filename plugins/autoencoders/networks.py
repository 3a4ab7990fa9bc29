"""Encoder and decoder networks shared by the autoencoders and the VAE (chapters 11 and 13).

* MLP: x flattened, h_l = relu(W_l h_{l-1} + b_l) through ``hidden``, then an
  affine map to the output; the decoder mirrors the encoder's widths.
* Convolutional: each stage is a 4x4 convolution of stride 2 and padding 1,
  which halves the image exactly, floor((n + 2 - 4) / 2) + 1 = n / 2 for
  even n; the feature map is flattened to an affine code. The decoder
  mirrors it with 4x4 transposed convolutions of stride 2 and padding 1,
  (n - 1) * 2 - 2 + 4 = 2n, so 28 -> 14 -> 7 -> 14 -> 28 and 8 -> 4 -> 2 -> 4 -> 8.
  The image's sides must be divisible by 2^stages.

Decoders return pre-activations (logits or means) shaped like the images.
"""

from __future__ import annotations

import math

from torch import Tensor, nn

import dpzoo

KERNEL, STRIDE, PADDING = 4, 2, 1


def mlp(widths: list[int]) -> nn.Sequential:
    """Affine maps between consecutive widths, ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (d_in, d_out) in enumerate(zip(widths, widths[1:])):
        layers.append(nn.Linear(d_in, d_out))
        if i < len(widths) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class MLPEncoder(nn.Module):
    def __init__(self, shape: tuple[int, ...], hidden: list[int], d_out: int):
        super().__init__()
        self.net = mlp([math.prod(shape), *hidden, d_out])

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x.flatten(1))


class MLPDecoder(nn.Module):
    def __init__(self, d_in: int, hidden: list[int], shape: tuple[int, ...]):
        super().__init__()
        self.shape = tuple(shape)
        self.net = mlp([d_in, *reversed(hidden), math.prod(shape)])

    def forward(self, h: Tensor) -> Tensor:
        return self.net(h).reshape(-1, *self.shape)


def feature_shape(shape: tuple[int, int, int], channels: list[int], key: str) -> tuple[int, int, int]:
    """[C_L, H / 2^L, W / 2^L] after the stride-2 stages, or an error naming ``key``."""
    _, height, width = shape
    factor = 2 ** len(channels)
    if height % factor or width % factor:
        raise dpzoo.ConfigError(
            f"{key}={channels}: {len(channels)} stride-2 stages need image sides divisible by {factor}, "
            f"got {height}x{width}; use fewer stages (28x28 MNIST takes at most 2, 8x8 digits at most 3)"
        )
    return channels[-1], height // factor, width // factor


class ConvEncoder(nn.Module):
    def __init__(self, shape: tuple[int, int, int], channels: list[int], d_out: int, key: str = "model.channels"):
        super().__init__()
        layers: list[nn.Module] = []
        c_in = shape[0]
        for c_out in channels:
            layers += [nn.Conv2d(c_in, c_out, KERNEL, STRIDE, PADDING), nn.ReLU()]
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.code = nn.Linear(math.prod(feature_shape(shape, channels, key)), d_out)

    def forward(self, x: Tensor) -> Tensor:
        return self.code(self.features(x).flatten(1))


class ConvDecoder(nn.Module):
    def __init__(self, d_in: int, channels: list[int], shape: tuple[int, int, int], key: str = "model.channels"):
        super().__init__()
        self.start = feature_shape(shape, channels, key)
        self.expand = nn.Sequential(nn.Linear(d_in, math.prod(self.start)), nn.ReLU())
        widths = [*reversed(channels), shape[0]]
        layers: list[nn.Module] = []
        for i, (c_in, c_out) in enumerate(zip(widths, widths[1:])):
            layers.append(nn.ConvTranspose2d(c_in, c_out, KERNEL, STRIDE, PADDING))
            if i < len(widths) - 2:
                layers.append(nn.ReLU())
        self.features = nn.Sequential(*layers)

    def forward(self, h: Tensor) -> Tensor:
        return self.features(self.expand(h).reshape(-1, *self.start))


def image_shape(input_shape: list[int] | None, name: str) -> tuple[int, ...]:
    """[C, H, W] (a grey [H, W] gains its channel; a flat [D] stays [D]), or an error saying how to set it."""
    if input_shape is None:
        raise dpzoo.ConfigError(
            f"model {name!r} needs input_shape: set it (--set model.input_shape=[1,28,28]) "
            "or train with --data so that it is read from the data"
        )
    shape = list(input_shape)
    if len(shape) == 2:
        shape = [1, *shape]
    if len(shape) not in (1, 3) or min(shape) < 1:
        raise dpzoo.ConfigError(
            f"model {name!r}: input_shape must be [channels, height, width] or [features], got {input_shape}"
        )
    return tuple(shape)
