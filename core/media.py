"""Images and text for TensorBoard, built with torch alone, shared by every topic's ``log_media``.

Every image is a float tensor [C, H, W] with values in [0, 1], the layout
``ctx.log_image`` (and ``SummaryWriter.add_image``) expects. Nothing here
draws with matplotlib or PIL: a grid is a tiling, a scatter plot is points
rasterised into a blank canvas, so these run wherever training runs.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

# A qualitative palette (Okabe-Ito, readable with colour-blindness), RGB in [0, 1]: label l uses PALETTE[l % 8].
PALETTE = torch.tensor(
    [
        [0.000, 0.447, 0.698],
        [0.902, 0.624, 0.000],
        [0.000, 0.620, 0.451],
        [0.835, 0.369, 0.000],
        [0.800, 0.475, 0.655],
        [0.337, 0.706, 0.914],
        [0.941, 0.894, 0.259],
        [0.000, 0.000, 0.000],
    ]
)


def upscale(image: Tensor, factor: int) -> Tensor:
    """Nearest-neighbour enlargement of a [C, H, W] (or [N, C, H, W]) image by an integer ``factor``."""
    if factor < 1:
        raise ValueError(f"upscale factor must be a positive integer, got {factor}")
    return image.repeat_interleave(factor, dim=-2).repeat_interleave(factor, dim=-1)


def image_grid(images: Tensor, nrow: int | None = None, padding: int = 1, pad_value: float = 1.0) -> Tensor:
    """Images [N, C, H, W] tiled ``nrow`` to a row (default: a near-square grid) into one [C, H', W'].

    Values are clamped to [0, 1]; ``padding`` pixels of ``pad_value`` separate the tiles.
    """
    if images.dim() != 4:
        raise ValueError(f"image_grid expects [N, C, H, W] images, got shape {tuple(images.shape)}")
    images = images.detach().float().cpu().clamp(0.0, 1.0)
    n, channels, height, width = images.shape
    columns = nrow or max(1, math.ceil(math.sqrt(n)))
    rows = max(1, math.ceil(n / columns))
    cell_h, cell_w = height + padding, width + padding
    grid = torch.full((channels, rows * cell_h + padding, columns * cell_w + padding), pad_value)
    for i in range(n):
        r, c = divmod(i, columns)
        top, left = padding + r * cell_h, padding + c * cell_w
        grid[:, top : top + height, left : left + width] = images[i]
    return grid


def scatter_image(points: Tensor, labels: Tensor | None = None, size: int = 256, radius: int = 1) -> Tensor:
    """Points [N, 2] drawn as dots on a white [3, size, size] canvas, coloured by integer ``labels``.

    The plot spans the points' bounding box with a 5% margin; y grows upwards,
    as on paper. Unlabelled points are drawn in the palette's first colour.
    """
    if points.dim() != 2 or points.shape[1] != 2:
        raise ValueError(f"scatter_image expects points of shape [N, 2], got {tuple(points.shape)}")
    p = points.detach().double().cpu()
    low, high = p.min(dim=0).values, p.max(dim=0).values
    span = (high - low).clamp_min(1e-12)
    low, span = low - 0.05 * span, span * 1.1
    pixels = ((p - low) / span * (size - 1)).round().long().clamp(0, size - 1)
    columns, rows = pixels[:, 0], (size - 1) - pixels[:, 1]
    colours = PALETTE[
        (labels.detach().cpu().long() % len(PALETTE)) if labels is not None else torch.zeros(len(p), dtype=torch.long)
    ]
    canvas = torch.ones(3, size, size)
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            r, c = (rows + dy).clamp(0, size - 1), (columns + dx).clamp(0, size - 1)
            canvas[:, r, c] = colours.T
    return canvas


def markdown_table(header: list[str], rows: list[list]) -> str:
    """A Markdown table (TensorBoard's text tab renders it): numbers to 4 significant figures."""

    def cell(value) -> str:
        return f"{value:.4g}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
