"""``dpzoo data NAME``: load a dataset (downloading or converting it once) and show its splits.

A built-in use of the ``dpzoo_register_commands`` hook: any plugin adds its
own sub-commands the same way.
"""

from __future__ import annotations

import argparse
import json


def add(subparsers) -> None:
    p = subparsers.add_parser("data", help="load a registered dataset and show its splits, columns and info")
    p.add_argument("name", help="registered dataset name (dpzoo list --kind dataset)")
    p.add_argument(
        "--set",
        dest="assignments",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a dataset option, e.g. --set seed=1",
    )
    p.set_defaults(handler=show)


def show(args: argparse.Namespace) -> int:
    import dpzoo
    from dpzoo.config import parse_assignments

    dataset = dpzoo.create("dataset", args.name, **parse_assignments(args.assignments))
    splits = dataset.load()
    print(f"dataset {args.name}: columns {', '.join(dataset.columns)}")
    for name, split in splits.items():
        print(f"  {name}: {len(split)} examples")
    print(f"  info: {json.dumps(dataset.info())}")
    return 0
