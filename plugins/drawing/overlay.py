"""The strokes drawn over their target image, enlarged, one colour per stroke (for TensorBoard and docs/)."""

from __future__ import annotations

import torch
from torch import Tensor

from dpzoo import media

from .rasterise import Strokes, render_hard


@torch.no_grad()
def overlay(target: Tensor, strokes: Strokes, segments: int = 8, factor: int = 8) -> Tensor:
    """RGB images [N, 3, f H, f W]: the target in grey, each stroke's centre line in its palette colour."""
    target = target.detach().float().cpu()
    n, _, height, width = target.shape
    size = (height * factor, width * factor)
    thin = Strokes(
        strokes.points.detach().float().cpu(),
        torch.full(strokes.half_widths.shape, 0.75),  # a line 1.5 enlarged pixels wide, whatever the stroke's width
        torch.ones(strokes.half_widths.shape),
    )
    images = 0.3 + 0.4 * media.upscale(target, factor).expand(n, 3, *size).clone()  # dimmed, so strokes stand out
    for k in range(thin.points.shape[1]):
        one = Strokes(thin.points[:, k : k + 1], thin.half_widths[:, k : k + 1], thin.intensities[:, k : k + 1])
        ink = render_hard(one, size, segments)  # [N, 1, fH, fW]
        colour = media.PALETTE[k % len(media.PALETTE)].view(1, 3, 1, 1)
        images = torch.where(ink > 0, colour.expand_as(images), images)
    return images
