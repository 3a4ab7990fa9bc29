"""``dpzoo sketch IMAGE --lines N --steps S --out sketch.svg|png``: draw an image with N strokes (section 1.3.5).

Optimises one ``sketch`` model on the image with Adam for S steps, sigma
annealed exponentially from 2 to 0.7 pixels and the multi-scale MSE as the
loss, then writes the strokes as SVG paths or as a PNG rendered at ``--scale``
times the image's size (the strokes are vectors, so any size renders sharp).
"""

from __future__ import annotations

import argparse
from pathlib import Path

SUFFIXES = (".svg", ".png")


def add(subparsers) -> None:
    p = subparsers.add_parser("sketch", help="draw an image (PNG, or digits:K / mnist:K) with N optimised strokes")
    p.add_argument("image", help="a PNG file, or digits:K / mnist:K for the K-th test image of that set")
    p.add_argument("--lines", type=int, default=8, help="number of strokes N")
    p.add_argument("--steps", type=int, default=300, help="Adam steps S")
    p.add_argument("--out", required=True, help="output file, .svg (the strokes as paths) or .png (their rendering)")
    p.add_argument("--primitive", choices=("line", "quadratic", "cubic"), default="line", help="stroke kind")
    p.add_argument("--size", type=int, default=64, help="shrink the image's longer side to this many pixels first")
    p.add_argument("--lr", type=float, default=0.02, help="Adam's learning rate (control points live in [0, 1])")
    p.add_argument("--scale", type=float, default=8.0, help="the output is this many times the (shrunk) image's size")
    p.add_argument("--seed", type=int, default=0, help="seed of the initial strokes")
    p.set_defaults(handler=run)


def target_image(spec: str, size: int):
    """The image to sketch as a float32 tensor [1, 1, H, W], bright ink on dark."""
    import torch

    from .targets import load_images, orient, shrink

    source, _, index = spec.partition(":")
    if source in ("digits", "mnist") and index.isdigit():
        image = load_images(source, int(index) + 1)[int(index)]
    else:
        image = load_images(spec, 1)[0]
    return torch.tensor(orient(shrink(image, size), "auto"), dtype=torch.float32)[None, None]


def sketch(target, lines: int, steps: int, primitive: str = "line", lr: float = 0.02, seed: int = 0):
    """Fit ``lines`` strokes to ``target`` [1, 1, H, W]; returns the model (in eval mode) and its final MSE."""
    import torch

    from .losses import MultiScaleMSE
    from .sketch import Sketch
    from .strokes_model import SIGMA_END, SIGMA_START

    torch.manual_seed(seed)
    model = Sketch(input_shape=list(target.shape[1:]), num_images=1, primitive=primitive, strokes=lines, seed=seed)
    batch = {"x": target, "i": torch.zeros(1, dtype=torch.long)}
    loss = MultiScaleMSE()
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    for step in range(steps):  # the trainer's exponential schedule: start (end / start)^f
        model.sigma = SIGMA_START * (SIGMA_END / SIGMA_START) ** (step / max(steps - 1, 1))
        optimiser.zero_grad()
        loss(model(batch), batch).total.backward()
        optimiser.step()
    model.eval()
    with torch.no_grad():
        mse = float((model(batch) - target).pow(2).mean())
    return model, batch, mse


def run(args: argparse.Namespace) -> int:
    import torch

    from .png import write_png
    from .rasterise import Strokes, render
    from .svg import write_svg

    out = Path(args.out)
    if out.suffix.lower() not in SUFFIXES:
        print(f"error: --out {args.out} must end in .svg or .png")
        return 2
    target = target_image(args.image, args.size)
    model, batch, mse = sketch(target, args.lines, args.steps, args.primitive, args.lr, args.seed)
    strokes = model.strokes(batch)
    if out.suffix.lower() == ".svg":
        write_svg(out, strokes, model.size, args.scale)
    else:
        size = (round(model.size[0] * args.scale), round(model.size[1] * args.scale))
        big = Strokes(strokes.points, strokes.half_widths * args.scale, strokes.intensities)
        with torch.no_grad():
            image = render(big, size, model.config.sigma * args.scale, model.config.composition, model.config.segments)
        write_png(out, image[0, 0].numpy())
    blank = float(target.pow(2).mean())
    print(
        f"sketched {args.image} with {args.lines} {args.primitive} strokes in {args.steps} steps: "
        f"MSE {mse:.5f} (a blank image: {blank:.5f}); wrote {out}"
    )
    return 0
