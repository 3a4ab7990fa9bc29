"""Plain versus residual networks of equal depth on digits (chapter 7; He et al. 2016, figures 1 and 6).

For each depth, trains two networks built by dpzoo's ``resnet`` model from
the same seed, so they start from the same weights and see the same batches
with the same optimiser: the ResNet, x_{l+1} = x_l + F(x_l), and the plain
network with the identical layers and no shortcut, x_{l+1} = F(x_l)
(``shortcut=False``). The identity path is the only difference.

It prints the training-loss curves side by side (mean loss over each
``--every`` steps), the norm of the gradient reaching the first convolution at
the first step, the final train and test accuracies and the seconds taken,
then one JSON line with everything. The default depths 20 and 56 show both
halves of the book's figure: the deeper plain network trains worse than the
shallower one, while the ResNet trains as well or better with depth. About a
minute and a half on one CPU core.

    python benchmarks/plain_vs_residual.py                  # depths 20 and 56
    python benchmarks/plain_vs_residual.py --blocks 5       # depth 32 only

A hand-written loop on purpose: torch only, nothing of the trainer between
the two models.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
import torch.nn.functional as F

import dpzoo


def load_digits() -> dict[str, dict[str, torch.Tensor]]:
    """dpzoo's digits splits as tensors: x float [N, 1, 8, 8] in [0, 1], y int64 [N]."""
    dataset = dpzoo.create("dataset", "digits")
    splits = dataset.load()
    tensors = {}
    for name in ("train", "test"):
        columns = splits[name].with_format("torch")[:]
        tensors[name] = dataset.transform({k: columns[k] for k in ("x", "y")})
    return tensors


@torch.no_grad()
def accuracy(model, split: dict[str, torch.Tensor]) -> float:
    model.eval()
    return (model(split).argmax(dim=1) == split["y"]).float().mean().item()


def train(blocks: int, shortcut: bool, data, args) -> dict:
    torch.manual_seed(args.seed)  # same initial weights for both: the layers are identical
    model = dpzoo.create_model(
        "resnet", input_shape=[1, 8, 8], num_classes=10, width=args.width, blocks=[blocks] * 3, shortcut=shortcut
    )
    optimiser = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=args.weight_decay)
    order = torch.Generator().manual_seed(args.seed)  # same batches for both
    x, y = data["train"]["x"], data["train"]["y"]
    losses, stem_gradient, start = [], None, time.perf_counter()
    model.train()
    for _ in range(args.steps):
        index = torch.randint(len(y), (args.batch_size,), generator=order)
        loss = F.cross_entropy(model({"x": x[index]}), y[index])
        optimiser.zero_grad()
        loss.backward()
        if stem_gradient is None:
            stem_gradient = model.stem.weight.grad.norm().item()
        optimiser.step()
        losses.append(loss.item())
    seconds = time.perf_counter() - start
    windows = [losses[i : i + args.every] for i in range(0, args.steps, args.every)]
    curve = [round(sum(w) / len(w), 4) for w in windows]
    return {
        "depth": model.depth,
        "loss_curve": curve,
        "final_loss": curve[-1],
        "initial_stem_gradient_norm": round(stem_gradient, 6),
        "train_accuracy": round(accuracy(model, data["train"]), 4),
        "test_accuracy": round(accuracy(model, data["test"]), 4),
        "seconds": round(seconds, 1),
    }


def report(plain: dict, residual: dict, args) -> None:
    print(f"\ndepth {plain['depth']}: training loss, mean over each {args.every} steps")
    print(f"{'step':>6} {'plain':>9} {'residual':>9}")
    for i, (p, r) in enumerate(zip(plain["loss_curve"], residual["loss_curve"])):
        print(f"{min((i + 1) * args.every, args.steps):>6} {p:>9.4f} {r:>9.4f}")
    for name, result in (("plain", plain), ("residual", residual)):
        print(
            f"{name:>9}: stem gradient norm at step 1 {result['initial_stem_gradient_norm']:.3g}, "
            f"train accuracy {result['train_accuracy']:.4f}, test accuracy {result['test_accuracy']:.4f}, "
            f"{result['seconds']:.1f} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, nargs="+", default=[3, 9], help="blocks per stage (3 stages): depth 6n+2")
    parser.add_argument("--width", type=int, default=16, help="channels of the first stage")
    parser.add_argument("--steps", type=int, default=300, help="optimiser steps for each network")
    parser.add_argument("--every", type=int, default=25, help="report the mean training loss every N steps")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.05, help="SGD learning rate (momentum 0.9)")
    parser.add_argument("--weight-decay", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads; 1 is fastest for small layers")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"digits, SGD lr {args.lr} momentum 0.9, batch {args.batch_size}, {args.steps} steps, seed {args.seed}")

    data = load_digits()
    results = []
    for blocks in args.blocks:
        plain, residual = train(blocks, False, data, args), train(blocks, True, data, args)
        report(plain, residual, args)
        results.append({"depth": plain["depth"], "plain": plain, "residual": residual})
    print(json.dumps({"benchmark": "plain_vs_residual", "config": vars(args), "results": results}))


if __name__ == "__main__":
    main()
