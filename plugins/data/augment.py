"""Random, seeded augmentation of image batches on the device (training batches only).

Each training batch is moved, turned and resized a little, so a network sees
a digit in slightly different places and poses from epoch to epoch and learns
to ignore them: the invariance to a character's exact position that chapter 1
asks of a handwriting recogniser, taught by examples rather than built in.
Fresh draws every step make the training set effectively unbounded, which
only stochastic mini-batch updates (chapter 6) can follow. The draws come from the
``torch.Generator`` the trainer passes with each training batch, seeded from
(seed, step) (``dpzoo.trainer.data.augment_generator``), so a run is
repeatable and a resumed run is bit-exact; evaluation batches never reach it.

Per example, in this order:

1. a rotation by an angle uniform in [-rotate, rotate] degrees and a zoom by a
   factor uniform in [1 - scale, 1 + scale], about the image's centre, by
   bilinear resampling (``affine_grid`` + ``grid_sample``); skipped entirely
   when both are 0, so a pure shift stays exact;
2. a translation by whole pixels (dy, dx), each uniform in {-shift, ..., shift},
   by padding and cropping: exact, the content moves by exactly (dy, dx) pixels;
3. Gaussian noise of standard deviation ``noise`` (in the units of x).

Pixels brought in from outside the image take the value ``fill``: the
background's value after the dataset's transform (0 for x in [0, 1]).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor

import dpzoo


class AugmentConfig(dpzoo.Config):
    shift: int = Field(0, ge=0, le=8, description="Largest random translation in whole pixels, each axis (0: none)")
    rotate: float = Field(0.0, ge=0.0, le=180.0, description="Largest random rotation in degrees, either way (0: none)")
    scale: float = Field(
        0.0, ge=0.0, lt=1.0, description="Largest random zoom, as a fraction: 0.1 draws 0.9..1.1 (0: none)"
    )
    noise: float = Field(0.0, ge=0.0, description="Standard deviation of added Gaussian noise, in units of x (0: none)")

    @property
    def active(self) -> bool:
        return bool(self.shift or self.rotate or self.scale or self.noise)


def shift_images(x: Tensor, dy: Tensor, dx: Tensor, fill: float = 0.0) -> Tensor:
    """x [N, C, H, W] with example n moved down by dy[n] and right by dx[n] whole pixels (exactly).

    out[n, :, i, j] = x[n, :, i - dy[n], j - dx[n]], and ``fill`` where that falls outside the image.
    """
    n, _, h, w = x.shape
    k = int(max(dy.abs().max(), dx.abs().max())) if n else 0
    if k >= min(h, w):
        raise ValueError(f"a shift of {k} pixels would move a {h}x{w} image out of view; use a shift below {min(h, w)}")
    padded = F.pad(x, (k, k, k, k), value=fill)
    rows = torch.arange(h, device=x.device) + k - dy[:, None]  # [N, H]: source row of each output row
    cols = torch.arange(w, device=x.device) + k - dx[:, None]  # [N, W]
    examples = torch.arange(n, device=x.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[examples, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


def rotate_and_zoom(x: Tensor, degrees: Tensor, zoom: Tensor, fill: float = 0.0) -> Tensor:
    """x [N, C, H, W] turned by ``degrees[n]`` and magnified by ``zoom[n]`` about its centre (bilinear)."""
    angle = degrees * (math.pi / 180.0)
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom  # affine_grid maps output to input: invert the zoom
    zeros = torch.zeros_like(cos)
    theta = torch.stack([torch.stack([cos, -sin, zeros], 1), torch.stack([sin, cos, zeros], 1)], 1)
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    # grid_sample brings in zeros from outside: sample x - fill so the outside reads as the background
    return F.grid_sample(x - fill, grid, mode="bilinear", padding_mode="zeros", align_corners=False) + fill


def augment_images(x: Tensor, config: AugmentConfig, generator: torch.Generator, fill: float = 0.0) -> Tensor:
    """One random draw of ``config``'s augmentation for each example of x [N, C, H, W] (see the module's docstring)."""
    n, device = len(x), x.device
    if config.rotate or config.scale:
        degrees = (torch.rand(n, generator=generator, device=device) * 2 - 1) * config.rotate
        zoom = 1 + (torch.rand(n, generator=generator, device=device) * 2 - 1) * config.scale
        x = rotate_and_zoom(x, degrees, zoom, fill)
    if config.shift:
        dy, dx = torch.randint(-config.shift, config.shift + 1, (2, n), generator=generator, device=device)
        x = shift_images(x, dy, dx, fill)
    if config.noise:
        x = x + config.noise * torch.randn(x.shape, generator=generator, device=device, dtype=x.dtype)
    return x
