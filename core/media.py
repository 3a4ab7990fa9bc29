"""Images and text for TensorBoard, built with torch alone, shared by every topic's ``log_media``.

Every image is a float tensor [C, H, W] with values in [0, 1], the layout
``ctx.log_image`` (and ``SummaryWriter.add_image``) expects; ``checked_image``
is the check ``ctx.log_image`` runs on what it is given. Nothing here
draws with matplotlib or PIL: a grid is a tiling, a scatter plot is points
rasterised into a blank canvas, so these run wherever training runs.
"""

from __future__ import annotations

import math
from typing import Any

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


def checked_image(tag: str, image: Any) -> tuple[Tensor, str | None]:
    """``image`` as a float CPU tensor [C, H, W] or [H, W] in [0, 1], and what was wrong with its values, if anything.

    A shape or type TensorBoard cannot draw is a ``ValueError`` that says what to pass (it would
    otherwise fail later, on the writer thread); 8-bit pixels are divided by 255; values outside
    [0, 1] are clamped (TensorBoard would clip them, and an image of 0-255 floats turns white).
    """
    where = f"ctx.log_image({tag!r}, ...)"
    if not isinstance(image, Tensor):
        raise ValueError(f"{where} takes a torch tensor [C, H, W] or [H, W], got {type(image).__name__}")
    shape = tuple(image.shape)
    if image.dim() == 4:
        raise ValueError(
            f"{where}: one image [C, H, W] at a time, got {shape}; tile a batch with dpzoo.media.image_grid"
        )
    if image.dim() not in (2, 3) or (image.dim() == 3 and shape[0] not in (1, 3, 4)):
        hint = " (channels last? use image.permute(2, 0, 1))" if image.dim() == 3 and shape[-1] in (1, 3, 4) else ""
        raise ValueError(f"{where}: expected [C, H, W] with C 1, 3 or 4, or [H, W], got {shape}{hint}")
    image = image.detach().cpu()
    if image.dtype == torch.uint8:
        return image.float() / 255, None
    if not (image.is_floating_point() or image.dtype == torch.bool):
        raise ValueError(f"{where}: a {image.dtype} image; pass floats in [0, 1] or 8-bit pixels (uint8)")
    image = image.float()
    low, high = (float(v) for v in image.aminmax())
    if 0.0 <= low and high <= 1.0:  # NaN fails this too
        return image, None
    problem = f"{where}: values from {low:.4g} to {high:.4g}, clamped to [0, 1] (divide 0-255 pixels by 255)"
    return image.nan_to_num(0.0).clamp(0.0, 1.0), problem


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
