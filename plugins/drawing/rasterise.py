"""A differentiable rasteriser of strokes: line segments and Bezier curves (section 1.3.5, chapter 17).

Section 1.3.5 asks for a differentiable function from line coordinates to an
image. Rasterising is a step function of the coordinates (a pixel is on or
off), so its gradient is zero almost everywhere; we relax it with a distance
field. For stroke k with control points P_k and pixel centre q:

    d_k(q)^2 = min over segments s of |q - proj_s(q)|^2        (squared distance to the stroke)
    I_k(q)   = c_k exp(-max(d_k(q) - r_k, 0)^2 / sigma^2)       (smooth falloff outside the half-width r_k)

With r_k = 0 this is the falloff exp(-d^2 / sigma^2). A Bezier curve of
degree n, B(t) = sum_i C(n, i) (1 - t)^(n - i) t^i P_i (n = 2 quadratic,
n = 3 cubic), is flattened into ``segments`` chords B(s/S) -> B((s+1)/S);
a line is one chord. The projection onto chord a -> b is
a + t* (b - a) with t* = clamp((q - a).(b - a) / |b - a|^2, 0, 1).

Strokes are composed per pixel by
    soft union:   I = 1 - prod_k (1 - I_k)                 (the probability that some stroke inks q)
    soft maximum: I = sum_k I_k softmax_k(I_k / T)          (tends to max_k I_k as T -> 0)
both symmetric in k, so the order of the strokes does not matter.

The hard rendering, which the soft one tends to as sigma -> 0 (and T -> 0),
inks pixel q by stroke k when it lies within the half-width, H_k(q) = c_k [d_k(q) <= r_k],
and composes the H_k as the soft rendering composes the I_k: 1 - prod_k (1 - H_k)
for the union, max_k H_k for the maximum (the two agree when every c_k = 1).

Coordinates: control points are (x, y) in [0, 1]^2, x to the right, y down;
pixel (i, j) has centre ((j + 1/2) / W, (i + 1/2) / H). Distances, r and
sigma are in pixels, so one sigma suits every coordinate.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import comb
from typing import Literal

import torch
from torch import Tensor

Primitive = Literal["line", "quadratic", "cubic"]
Composition = Literal["soft_union", "soft_max"]
CONTROL_POINTS = {"line": 2, "quadratic": 3, "cubic": 4}
EPS = 1e-12  # keeps sqrt and the projection's division finite for a zero-length chord


@dataclass
class Strokes:
    """K strokes of N images: points [N, K, P, 2] in [0, 1]^2, half-widths r and intensities c [N, K] (pixels, [0, 1])."""

    points: Tensor
    half_widths: Tensor
    intensities: Tensor

    @property
    def primitive(self) -> Primitive:
        return {p: name for name, p in CONTROL_POINTS.items()}[self.points.shape[-2]]

    def permute(self, order: Tensor) -> Strokes:
        """The same strokes in another order along K."""
        return Strokes(self.points[:, order], self.half_widths[:, order], self.intensities[:, order])


def bezier(points: Tensor, t: Tensor) -> Tensor:
    """B(t) = sum_i C(n, i) (1 - t)^(n - i) t^i P_i for points [..., n + 1, 2] and t [T]: [..., T, 2]."""
    n = points.shape[-2] - 1
    basis = torch.stack([comb(n, i) * (1 - t) ** (n - i) * t**i for i in range(n + 1)], dim=-1)  # [T, n + 1]
    return basis.to(points.dtype) @ points


def polyline(points: Tensor, segments: int) -> Tensor:
    """The stroke as chord end points [..., S + 1, 2]: the points of a line, B(s / S) for a curve."""
    if points.shape[-2] == 2:
        return points
    t = torch.linspace(0.0, 1.0, segments + 1, device=points.device, dtype=points.dtype)
    return bezier(points, t)


def pixel_centres(height: int, width: int, device=None, dtype=None) -> Tensor:
    """Centres (x, y) of every pixel, in pixels, [H * W, 2] in row-major order."""
    y, x = torch.meshgrid(
        torch.arange(height, device=device, dtype=dtype) + 0.5,
        torch.arange(width, device=device, dtype=dtype) + 0.5,
        indexing="ij",
    )
    return torch.stack([x.reshape(-1), y.reshape(-1)], dim=-1)


def squared_distance(points: Tensor, size: tuple[int, int], segments: int = 8) -> Tensor:
    """d_k(q)^2 in squared pixels from every pixel q to every stroke: points [N, K, P, 2] -> [N, K, H * W]."""
    height, width = size
    scale = torch.tensor([width, height], device=points.device, dtype=points.dtype)
    vertices = polyline(points, segments) * scale  # [N, K, S + 1, 2] in pixels
    a, b = vertices[..., :-1, :], vertices[..., 1:, :]  # chords [N, K, S, 2]
    q = pixel_centres(height, width, points.device, points.dtype)  # [Q, 2]
    ab = (b - a).unsqueeze(-2)  # [N, K, S, 1, 2]
    aq = q - a.unsqueeze(-2)  # [N, K, S, Q, 2]
    t = ((aq * ab).sum(-1) / ((ab * ab).sum(-1) + EPS)).clamp(0.0, 1.0)  # t* of each pixel on each chord
    offset = aq - t.unsqueeze(-1) * ab
    return (offset * offset).sum(-1).amin(dim=-2)  # nearest chord


def intensities(strokes: Strokes, size: tuple[int, int], sigma: float | Tensor, segments: int = 8) -> Tensor:
    """I_k(q) = c_k exp(-max(d_k - r_k, 0)^2 / sigma^2), [N, K, H * W]."""
    d2 = squared_distance(strokes.points, size, segments)
    r = strokes.half_widths.unsqueeze(-1)
    outside = torch.where(r > 0, torch.relu(torch.sqrt(d2 + EPS) - r) ** 2, d2)  # r = 0: exactly d^2
    return strokes.intensities.unsqueeze(-1) * torch.exp(-outside / sigma**2)


def compose(layers: Tensor, composition: Composition = "soft_union", temperature: float = 0.1) -> Tensor:
    """Per-pixel union of the strokes' intensities [N, K, Q] -> [N, Q] (symmetric in K)."""
    if composition == "soft_union":
        return 1.0 - torch.prod(1.0 - layers, dim=1)
    if composition == "soft_max":
        return (layers * torch.softmax(layers / temperature, dim=1)).sum(dim=1)
    raise ValueError(f"unknown composition {composition!r}: use 'soft_union' or 'soft_max'")


def render(
    strokes: Strokes,
    size: tuple[int, int],
    sigma: float | Tensor,
    composition: Composition = "soft_union",
    segments: int = 8,
    temperature: float = 0.1,
) -> Tensor:
    """The soft rendering, images [N, 1, H, W] in [0, 1], differentiable in every stroke parameter."""
    layers = intensities(strokes, size, sigma, segments)
    return compose(layers, composition, temperature).reshape(-1, 1, *size)


@torch.no_grad()
def render_hard(
    strokes: Strokes, size: tuple[int, int], segments: int = 8, composition: Composition = "soft_union"
) -> Tensor:
    """H_k(q) = c_k [d_k(q) <= r_k] composed as ``composition``'s limit: the non-differentiable rendering, [N, 1, H, W]."""
    d2 = squared_distance(strokes.points, size, segments)
    layers = (d2 <= strokes.half_widths.unsqueeze(-1) ** 2) * strokes.intensities.unsqueeze(-1)
    image = layers.amax(dim=1) if composition == "soft_max" else compose(layers, composition)
    return image.reshape(-1, 1, *size)
