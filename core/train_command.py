"""The ``dpzoo train`` command line: its flags, and the run config they ask for.

Shared by ``dpzoo train`` (``cli``) and by rebuilding a zoo entry from the
command its card records (``pretrained.rebuild``), which parses that command
with the same flags rather than with the whole CLI.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

# flag -> dotted key in the run config
TRAIN_FLAGS = {
    "model": "model.name",
    "data": "data.name",
    "loss": "loss.name",
    "optimiser": "optimiser.name",
    "scheduler": "scheduler.name",
    "lr": "optimiser.lr",
    "epochs": "trainer.epochs",
    "max_steps": "trainer.max_steps",
    "batch_size": "trainer.batch_size",
    "device": "trainer.device",
    "seed": "trainer.seed",
    "logdir": "logdir",
    "run_name": "run_name",
}


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="registered model name (dpzoo list --kind model)")
    p.add_argument("--data", help="registered dataset name (dpzoo list --kind dataset)")
    p.add_argument("--loss", help="loss name (default: the model's, else the data's)")
    p.add_argument("--optimiser", "--optimizer", dest="optimiser", help="optimiser name (default: adam)")
    p.add_argument("--scheduler", help="learning-rate schedule name (default: none)")
    p.add_argument("--metrics", help="comma-separated metric names (default: the model's, else the data's)")
    p.add_argument("--config", type=Path, help="YAML or JSON run config; flags and --set override it (default: none)")
    p.add_argument(
        "--set",
        dest="assignments",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set any config value, e.g. --set model.hidden=[128,64] --set trainer.grad_clip=1.0 "
        "(options and defaults: dpzoo info MODEL, dpzoo info trainer)",
    )
    # the trainer's defaults, spelt out for --help (tests/test_terminal.py checks them against TrainConfig);
    # every trainer option, with its default: dpzoo info trainer
    p.add_argument("--epochs", type=int, help="passes over the training split (default: 10)")
    p.add_argument(
        "--max-steps", type=int, help="stop after this many optimiser steps, overriding --epochs (default: none)"
    )
    p.add_argument("--batch-size", type=int, help="training examples per step (default: 64)")
    p.add_argument(
        "--lr", type=float, help="learning rate of the optimiser (default: the optimiser's own, adam's 0.001)"
    )
    p.add_argument("--device", help="auto (cuda > mps > cpu), cpu, cuda, cuda:N, mps (default: auto)")
    p.add_argument("--seed", type=int, help="seed for initialisation, shuffling and dropout (default: 0)")
    p.add_argument("--logdir", help="directory that holds runs (default: runs)")
    p.add_argument("--run-name", help="run directory name (default: model-data-timestamp)")
    p.add_argument("--resume", metavar="RUN", help="continue the run in directory RUN from its last checkpoint")


def run_config_from_args(args: argparse.Namespace) -> dict[str, Any]:
    from .config import merge, parse_assignments, set_path

    config: dict[str, Any] = {}
    if args.config is not None:
        config = _read_config_file(args.config)
    flags: dict[str, Any] = {}
    for flag, key in TRAIN_FLAGS.items():
        value = getattr(args, flag)
        if value is not None:
            set_path(flags, key, value)
    if args.metrics is not None:
        flags["metrics"] = [m.strip() for m in args.metrics.split(",") if m.strip()]
    config = merge(merge(config, flags), parse_assignments(args.assignments))
    if args.lr is not None:
        from .optimiser_groups import check_cli_lr

        check_cli_lr(config)
    return config


def _read_config_file(path: Path) -> dict[str, Any]:
    from .configfile import read_config_file

    return read_config_file(path)


def config_from_argv(argv: list[str]) -> tuple[dict[str, Any], argparse.Namespace]:
    """The run config that ``dpzoo train ARGV`` asks for, and the parsed arguments."""
    parser = argparse.ArgumentParser(prog="dpzoo train")
    add_train_arguments(parser)
    args = parser.parse_args(argv)
    return run_config_from_args(args), args
