"""``dpzoo zoo publish|build|verify``: filled in by the zoo work (issue 3)."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    p = sub.add_parser("zoo", help="publish, rebuild and verify pretrained weights")
    p.set_defaults(handler=lambda args: 1)
