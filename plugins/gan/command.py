"""``dpzoo gan-references DATA``: the floor and ceiling that generators of DATA are scored against."""

from __future__ import annotations

import argparse


def add(subparsers) -> None:
    p = subparsers.add_parser(
        "gan-references",
        help="score real training images and an untrained DCGAN against a split (a card's reference points)",
    )
    p.add_argument("data", help="dataset name, e.g. digits or mnist")
    p.add_argument("--split", default="test", help="split the images are scored against (default: test)")
    p.add_argument("--seed", type=int, default=0, help="torch seed of the untrained generator (default: 0)")
    p.add_argument(
        "--set",
        dest="assignments",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a DCGAN option of the untrained generator, e.g. --set width=32",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import dpzoo
    from dpzoo.config import parse_assignments

    from .references import card_note, reference_scores

    info = dpzoo.create("dataset", args.data).info()
    model_config = {"input_shape": info["input_shape"], **parse_assignments(args.assignments)}
    references = reference_scores({"name": args.data}, model_config, args.split, args.seed)
    for kind, values in references.items():
        print(f"{kind}: " + ", ".join(f"{name} {value:.6f}" for name, value in values.items()))
    print(card_note(references, args.split, args.seed))
    return 0
