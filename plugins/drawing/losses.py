"""Comparing a render with its target (section 1.3.5): pixel MSE, and a blurred, multi-scale MSE.

A thin stroke that misses its target by a few pixels has almost no gradient
under the plain MSE: their falloffs barely overlap. Comparing blurred and
downsampled copies as well widens the basin:

    L = 1/L sum_{l=0}^{L-1} mean |A_l(G * x_hat) - A_l(G * x)|^2,

with G a Gaussian blur of ``blur`` pixels (none at 0) and A_l the 2^l x 2^l
average pooling (A_0 the identity).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor

import dpzoo


def gaussian_blur(x: Tensor, sigma: float) -> Tensor:
    """Separable Gaussian blur of images [N, C, H, W] with a kernel of radius ceil(3 sigma), zero padding."""
    if sigma <= 0:
        return x
    radius = max(1, math.ceil(3 * sigma))
    offsets = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    kernel = torch.exp(-(offsets**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    channels = x.shape[1]
    x = F.conv2d(x, kernel.view(1, 1, 1, -1).expand(channels, 1, 1, -1), padding=(0, radius), groups=channels)
    return F.conv2d(x, kernel.view(1, 1, -1, 1).expand(channels, 1, -1, 1), padding=(radius, 0), groups=channels)


def target_like(batch, key: str, output: Tensor, who: str) -> Tensor:
    if key not in batch:
        raise dpzoo.ConfigError(
            f"{who} compares with batch[{key!r}], but the batch has keys {sorted(batch)}; set its target"
        )
    return batch[key].reshape(output.shape).to(output.dtype)


class MultiScaleMSEConfig(dpzoo.Config):
    target: str = Field("x", description="Batch key of the target image")
    levels: int = Field(3, ge=1, description="Scales compared: 1, 1/2, ..., 1/2^(levels - 1)")
    blur: float = Field(0.0, ge=0.0, description="Gaussian blur sigma in pixels applied to both images first (0: none)")


class MultiScaleMSE(dpzoo.Loss):
    """Mean over scales of the MSE between (blurred) render and target; the finest scale is logged as 'mse'."""

    Config = MultiScaleMSEConfig

    def __call__(self, output: Tensor, batch) -> dpzoo.LossOutput:
        c = self.config
        y = target_like(batch, c.target, output, "loss 'multiscale_mse'")
        x_hat, y = gaussian_blur(output, c.blur), gaussian_blur(y, c.blur)
        terms = []
        for level in range(c.levels):
            if level:
                if min(x_hat.shape[-2:]) < 2:
                    break
                x_hat, y = F.avg_pool2d(x_hat, 2, ceil_mode=True), F.avg_pool2d(y, 2, ceil_mode=True)
            terms.append(F.mse_loss(x_hat, y))
        return dpzoo.LossOutput(torch.stack(terms).mean(), {"mse": terms[0].detach()})


class PixelMSEConfig(dpzoo.Config):
    target: str = Field("x", description="Batch key of the target image")


class PixelMSE(dpzoo.Metric):
    """Per image, the mean over pixels of (x_hat - x)^2: the reconstruction error on the cards."""

    Config = PixelMSEConfig
    higher_is_better = False

    def __call__(self, output: Tensor, batch) -> Tensor:
        y = target_like(batch, self.config.target, output, "metric 'pixel_mse'")
        return (output - y).pow(2).flatten(1).mean(dim=1)
