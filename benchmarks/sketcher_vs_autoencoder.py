"""The learned sketcher against a same-size auto-encoder, and the rasteriser's cost per primitive.

Both arms share the sketcher's convolutional encoder and its code size: the
sketcher's code is K strokes' control points (and widths, intensities), decoded
by the fixed rasteriser; the auto-encoder's code has the same number of
numbers, decoded by a learnt MLP (code -> hidden -> H W, sigmoid). Both are
trained with the same trainer settings and scored by test/pixel_mse, so the
ratio says what forcing the code to be a drawing costs in reconstruction.
(There is no auto-encoder plugin on main yet; this one lives here.)

    python benchmarks/sketcher_vs_autoencoder.py                      # digits, seconds
    python benchmarks/sketcher_vs_autoencoder.py --data mnist --epochs 2 --batch-size 128 --lr 2e-3 \
        --scheduler cosine --set width=2.0 --set segments=4               # the sketcher.mnist settings
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

import dpzoo
from dpzoo.plugins.drawing.rasterise import Strokes, render
from dpzoo.plugins.drawing.sketcher import Sketcher


class CodeAutoencoder(Sketcher):
    """The sketcher's encoder and code size, with an MLP decoder instead of the rasteriser."""

    registered_name = "code_autoencoder"

    def __init__(self, config=None, **overrides):
        super().__init__(config, **overrides)
        code_size = self.code_size()
        del self.point_head, self.width_head, self.intensity_head  # the code comes from self.code instead
        height, width = self.size
        self.decoder = nn.Sequential(
            nn.Linear(code_size, self.config.hidden),
            nn.ReLU(),
            nn.Linear(self.config.hidden, height * width),
            nn.Sigmoid(),
        )
        self.code = nn.Linear(self.config.hidden, code_size)

    def log_media(self, ctx):
        """No strokes to draw: the code is not a drawing."""

    def forward(self, batch):
        x = self.inputs(batch).float()
        h = self.encoder(x.reshape(x.shape[0], 1, *self.size))
        return self.decoder(self.code(h)).reshape(x.shape[0], 1, *self.size)


class Scratch:
    @dpzoo.hookimpl
    def dpzoo_register_models(self, register):
        register("code_autoencoder", CodeAutoencoder, summary="benchmark arm: sketcher encoder + MLP decoder")


def train(model: str, args) -> tuple[float, int, float]:
    options = dict(a.split("=", 1) for a in args.set)
    config = {
        "model": {"name": model, **options},
        "data": args.data,
        "optimiser": {"name": "adam", "lr": args.lr},
        "scheduler": args.scheduler,
        "trainer": {
            "device": "cpu",
            "progress": False,
            "threads": 1,
            "media_every": 0,
            "seed": 0,
            "epochs": args.epochs,
            "batch_size": args.batch_size,
        },
        "logdir": args.logdir,
    }
    start = time.perf_counter()
    result = dpzoo.train(config)
    parameters = sum(p.numel() for p in result.model.parameters())
    return result.metrics["test/pixel_mse"], parameters, time.perf_counter() - start


def rasteriser_cost(repeats: int = 5) -> None:
    """Forward + backward time of a 128-image 28x28 render, per primitive kind (same process, side by side)."""
    torch.manual_seed(0)
    rows = []
    for primitive, p, segments in (("line", 2, 1), ("quadratic", 3, 4), ("cubic", 4, 4), ("cubic", 4, 8)):
        points = torch.rand(128, 4, p, 2, requires_grad=True)
        strokes = Strokes(points, torch.full((128, 4), 1.0), torch.ones(128, 4))
        best = float("inf")
        for _ in range(repeats):
            t = time.perf_counter()
            render(strokes, (28, 28), 0.7, segments=segments).sum().backward()
            best = min(best, time.perf_counter() - t)
        rows.append((f"{primitive} x{segments}", best))
    base = rows[0][1]
    for name, seconds in rows:
        print(f"  {name:14s} {seconds * 1000:8.1f} ms   {seconds / base:5.2f}x the line")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="digits")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--scheduler", default=None)
    parser.add_argument(
        "--set", action="append", default=[], help="a sketcher option for both arms, e.g. learn_width=true"
    )
    parser.add_argument("--logdir", default="/tmp/dpzoo-bench")
    parser.add_argument(
        "--arms", default="sketcher,autoencoder", help="which arms to train (the sketcher alone: its zoo card has it)"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    dpzoo.register_plugin(Scratch(), name="bench_autoencoder")
    print(f"sketcher vs same-size auto-encoder on {args.data} ({args.epochs} epochs, options {args.set}):")
    arms = {
        name: train(model, args)
        for name, model in (("sketcher", "sketcher"), ("autoencoder", "code_autoencoder"))
        if name in args.arms.split(",")
    }
    for name, (mse, parameters, seconds) in arms.items():
        print(f"  {name:12s} test/pixel_mse {mse:.5f}   {parameters:8d} parameters   {seconds:7.1f} s")
    if len(arms) == 2:
        (s_mse, _, s_time), (a_mse, _, a_time) = arms["sketcher"], arms["autoencoder"]
        print(f"  ratio sketcher / autoencoder: MSE {s_mse / a_mse:.2f}, time {s_time / a_time:.2f}")
    print("rasteriser forward + backward, 128 images of 28x28, 4 strokes:")
    rasteriser_cost()


if __name__ == "__main__":
    main()
