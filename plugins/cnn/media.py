"""Images for TensorBoard, built with torch alone: filter grids and confusion matrices.

Every image is a float tensor of shape [C, H, W] with values in [0, 1], the
layout ``SummaryWriter.add_image`` expects by default.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def upscale(image: Tensor, factor: int) -> Tensor:
    """Nearest-neighbour enlargement of a [C, H, W] image, so small kernels stay visible."""
    return image.repeat_interleave(factor, dim=-2).repeat_interleave(factor, dim=-1)


def filter_grid(weights: Tensor, scale: int = 8, border: int = 3) -> Tensor:
    """The kernels of a convolution, [out, in, k, k], tiled in a near-square grid.

    One- and three-channel kernels are drawn in grey or colour; others show the
    mean over their input channels. Each kernel is scaled on its own so that a
    zero weight is mid-grey, the largest |weight| black or white: the sign
    pattern (edge, blob, stroke detector) is what one looks for.
    """
    w = weights.detach().float().cpu()
    if w.shape[1] not in (1, 3):
        w = w.mean(dim=1, keepdim=True)
    peak = w.abs().amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-12)
    w = upscale(0.5 + 0.5 * w / peak, scale)
    n, channels, height, width = w.shape
    columns = math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    cell_h, cell_w = height + border, width + border
    grid = torch.ones(channels, rows * cell_h + border, columns * cell_w + border)
    for i in range(n):
        r, c = divmod(i, columns)
        top, left = border + r * cell_h, border + c * cell_w
        grid[:, top : top + height, left : left + width] = w[i]
    return grid


def confusion_matrix(logits: Tensor, targets: Tensor, num_classes: int | None = None) -> Tensor:
    """Counts [K, K]: entry (i, j) is how many examples of true class i were predicted as j."""
    predictions = logits.argmax(dim=-1) if logits.dim() > 1 else logits
    targets = targets.reshape(-1).long().cpu()
    predictions = predictions.reshape(-1).long().cpu()
    if num_classes is None:
        num_classes = int(max(predictions.max(), targets.max())) + 1
    flat = torch.bincount(targets * num_classes + predictions, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes)


def normalise_rows(counts: Tensor) -> Tensor:
    """Each true class's row divided by its size: the diagonal holds per-class recall."""
    counts = counts.float()
    return counts / counts.sum(dim=1, keepdim=True).clamp_min(1)


def matrix_image(matrix: Tensor, cell: int = 16) -> Tensor:
    """A [K, K] matrix with values in [0, 1] as a grey [1, K*cell, K*cell] image (1 is white)."""
    return upscale(matrix.float().clamp(0, 1).unsqueeze(0), cell)


def confusion_text(counts: Tensor, split: str = "validation") -> str:
    """The count matrix as a Markdown table (rows: true class, columns: predicted), the split named in its corner."""
    k = counts.shape[0]
    header = f"| {split}: true \\ predicted | " + " | ".join(str(j) for j in range(k)) + " |"
    rule = "|---" * (k + 1) + "|"
    rows = [f"| {i} | " + " | ".join(str(int(v)) for v in row) + " |" for i, row in enumerate(counts.tolist())]
    return "\n".join([header, rule, *rows])
