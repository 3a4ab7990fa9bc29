"""Strokes as an SVG drawing: one <path> per stroke (M for the start, L, Q or C for a line or a Bezier curve)."""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import quoteattr

from .rasterise import Strokes

COMMAND = {2: "L", 3: "Q", 4: "C"}  # control points -> SVG path command


def svg_document(strokes: Strokes, size: tuple[int, int], scale: float = 8.0, background: str = "black") -> str:
    """One image's strokes (points [1, K, P, 2]) as an SVG of (H scale) x (W scale) pixels, white ink."""
    height, width = size
    w, h = width * scale, height * scale
    lines = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w:g}" height="{h:g}" viewBox="0 0 {w:g} {h:g}">',
        f'  <rect width="100%" height="100%" fill={quoteattr(background)}/>',
    ]
    points = strokes.points[0].detach().double().cpu()
    for k in range(points.shape[0]):
        xy = [(float(x) * w, float(y) * h) for x, y in points[k]]
        d = f"M {xy[0][0]:.2f} {xy[0][1]:.2f} {COMMAND[len(xy)]} " + " ".join(f"{x:.2f} {y:.2f}" for x, y in xy[1:])
        stroke_width = max(2 * float(strokes.half_widths[0, k]), 0.5) * scale
        opacity = float(strokes.intensities[0, k])
        lines.append(
            f'  <path d="{d}" fill="none" stroke="white" stroke-width="{stroke_width:.2f}" '
            f'stroke-opacity="{opacity:.3f}" stroke-linecap="round"/>'
        )
    lines.append("</svg>")
    return "\n".join(lines) + "\n"


def write_svg(path: str | Path, strokes: Strokes, size: tuple[int, int], scale: float = 8.0) -> None:
    Path(path).write_text(svg_document(strokes, size, scale))
