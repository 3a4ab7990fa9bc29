"""``dpzoo sample NAME``: text from a character model, by zoo name or from a run directory.

    dpzoo sample lstm.shakespeare --prime "ROMEO:" --temperature 0.8
    dpzoo sample runs/lstm-shakespeare-20261128-132218 --length 200 --top-k 5
    dpzoo sample lstm.pysrc --prime "def " --seed 3

NAME is a zoo entry (``arch.tag``, or ``arch`` for its default tag), a
``.safetensors`` file, or a run directory (its final ``model.safetensors``, or
its last checkpoint while it is still training).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add(subparsers) -> None:
    p = subparsers.add_parser(
        "sample", help="generate text from a character language model (zoo name or run directory)"
    )
    p.add_argument(
        "name", help="arch.tag from the zoo (dpzoo list --pretrained), a .safetensors file, or a run directory"
    )
    p.add_argument("--prime", help="text to start from (default: a newline, if the model knows it)")
    p.add_argument(
        "--temperature", type=float, default=1.0, help="T in softmax(z / T): towards 0 greedy, above 1 more random"
    )
    p.add_argument("--top-k", type=int, help="draw only from the k likeliest characters")
    p.add_argument("--length", type=int, default=500, help="characters to generate after the prime")
    p.add_argument("--seed", type=int, default=0, help="seed of the draws")
    p.add_argument("--device", default="cpu", help="cpu, cuda or mps")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from .sampling import check, default_prime, sample

    check(args.temperature, args.top_k, args.length)  # before any loading: a bad flag fails at once
    model = load(args.name).to(args.device)
    prime = args.prime if args.prime is not None else default_prime(model.vocabulary)
    generator = torch.Generator().manual_seed(args.seed)
    print(sample(model, prime, args.length, args.temperature, args.top_k, generator))
    return 0


def load(name: str):
    """The model behind ``name``: a run directory, a weights file, or a zoo entry."""
    import dpzoo

    path = Path(name).expanduser()
    if path.is_dir():
        return from_run(path)
    if path.suffix == ".safetensors":
        arch = json.loads(_metadata(path).get("dpzoo.model", "{}")).get("name") or path.name.partition(".")[0]
        return dpzoo.create_model(arch, pretrained=str(path))
    return dpzoo.create_model(name, pretrained=True)


def from_run(run_dir: Path):
    """A run's final weights, or the weights of its last checkpoint if it has not finished."""
    import dpzoo
    from dpzoo.run import load_run_config
    from dpzoo.trainer.recovery import load_checkpoint

    config = load_run_config(run_dir)
    section = dict(config["model"])
    arch = section.pop("name")
    final = run_dir / "model.safetensors"
    if final.exists():
        return dpzoo.create_model(arch, pretrained=str(final))
    if not (run_dir / "checkpoints" / "last.json").exists():
        raise dpzoo.ConfigError(
            f"{run_dir} has neither model.safetensors nor a checkpoint yet: let it train for a while"
        )
    _, state = load_checkpoint(run_dir / "checkpoints")
    model = dpzoo.create_model(arch, **section)
    model.load_state_dict(state["model"])
    return model


def _metadata(path: Path) -> dict:
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        return f.metadata() or {}
