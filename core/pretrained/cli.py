"""``dpzoo zoo publish|build|verify|export``: make, rebuild, re-check and share pretrained entries."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub) -> None:
    zoo = sub.add_parser("zoo", help="publish, rebuild, verify and export pretrained weights")
    commands = zoo.add_subparsers(dest="zoo_command", required=True)

    p = commands.add_parser("publish", help="turn a finished run into a zoo entry (weights + model card)")
    p.add_argument("run_dir", type=Path, help="the run directory (holds config.json and model.safetensors)")
    p.add_argument("--name", required=True, help="arch.tag, e.g. mlp.digits")
    p.add_argument("--out", type=Path, help="directory to publish into (default: the installed zoo)")
    p.add_argument("--summary", default="", help="one line saying what the weights are")
    p.add_argument("--note", dest="notes", action="append", default=[], help="a note for the card (repeatable)")
    p.add_argument(
        "--default",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="make this the architecture's default tag (default: if it has none yet)",
    )
    p.add_argument("--licence", default="MIT", help="licence of the weights")
    p.add_argument(
        "--threads", type=int, help="CPU threads the run trained with (default: this process's torch threads)"
    )
    p.add_argument(
        "--rebuild-tolerance",
        action="append",
        default=[],
        metavar="METRIC=VALUE",
        help="how far a rebuild on other CPU kernels may move METRIC, absolute (repeatable; default 0.01)",
    )
    p.set_defaults(handler=cmd_publish)

    p = commands.add_parser(
        "build", help="retrain an entry with its card's command and compare (exit 1 if results differ)"
    )
    p.add_argument("name", help="arch.tag (or a .safetensors file with a card)")
    p.add_argument("--out", type=Path, help="publish the rebuilt file here (default: compare only)")
    p.set_defaults(handler=cmd_build)

    p = commands.add_parser("verify", help="check hashes and re-evaluate every card metric")
    p.add_argument("name", nargs="?", help="one entry (default: all)")
    p.add_argument("--hashes-only", action="store_true", help="check files and cards, skip re-evaluation")
    p.add_argument(
        "--subset",
        action="store_true",
        help="re-evaluate on the first examples of each split only, against subsets.json (quick)",
    )
    p.add_argument(
        "--record-subsets",
        action="store_true",
        help="after a full re-check passes, record each entry's subset figures in subsets.json",
    )
    p.set_defaults(handler=cmd_verify)

    p = commands.add_parser("export", help="write an entry as a Hugging Face Hub folder (weights + README model card)")
    p.add_argument("name", help="arch.tag (or a .safetensors file with a card)")
    p.add_argument("dir", type=Path, help="the folder to write (created if missing)")
    p.add_argument("--push", metavar="OWNER/REPO", help="then upload the folder to this Hub model repository")
    p.set_defaults(handler=cmd_export)


def cmd_publish(args: argparse.Namespace) -> int:
    from ..config import parse_value
    from ..errors import ConfigError
    from .publish import publish

    tolerance = {}
    for item in args.rebuild_tolerance:
        metric, sep, value = item.partition("=")
        if not sep or not isinstance(parse_value(value), (int, float)):
            raise ConfigError(f"--rebuild-tolerance expects METRIC=NUMBER (test/loss=0.01), got {item!r}")
        tolerance[metric] = float(parse_value(value))
    path, card = publish(
        args.run_dir,
        args.name,
        out_dir=args.out,
        summary=args.summary,
        notes=args.notes,
        default=args.default,
        licence=args.licence,
        threads=args.threads,
        rebuild_tolerance=tolerance,
    )
    print(f"published {card.name} -> {path}")
    print(card.render())
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    """Exit 0 when the rebuild is bitwise equal or reproduced up to kernels, 1 when its results differ."""
    from .rebuild import DIFFERS, rebuild

    report = rebuild(args.name, args.out, announce=lambda run_dir, _: print(f"training into {run_dir}", flush=True))
    print(f"rebuilt {report.card.name} in {report.seconds:.1f} s with: {report.card.command}")
    for line in report.drift:
        print(f"  config drift: {line}")
    same = "the same" if report.same_weights else "different"
    print(f"  weights_sha256: {same} ({report.rebuilt.weights_sha256})")
    for split, same_predictions in report.predictions.items():
        shown = {True: "identical", False: "DIFFERENT", None: "not compared (outputs are not class scores)"}
        print(f"  predictions on {split}: {shown[same_predictions]}")
    recorded = {m.name: m.value for m in report.card.metrics}
    for m in report.rebuilt.metrics:
        before = f"card {recorded[m.name]:.6f}, " if m.name in recorded else ""
        print(f"  {m.name}: {before}rebuilt {m.value:.6f} (tolerance {report.tolerance(m.name):g})")
    if report.path is not None:
        print(f"  published to {report.path}")
    if not report.same_weights and not report.same_environment:
        card, now = report.card.environment, report.rebuilt.environment
        print(
            f"  the card was trained with torch {card.torch}, {card.cpu_capability} kernels, {card.threads} thread(s) "
            f"on {card.device}; this rebuild used torch {now.torch}, {now.cpu_capability}, {now.threads} on {now.device}: "
            "bitwise equality needs the same"
        )
    print(f"verdict: {report.verdict}")
    return 1 if report.verdict == DIFFERS else 0


def cmd_verify(args: argparse.Namespace) -> int:
    from .verify import verify

    results = verify(args.name, evaluate=not args.hashes_only, subset=args.subset, record_subsets=args.record_subsets)
    for r in results:
        print(f"{r.name}: {r.status}" + (f" (first {r.examples} examples of each split)" if r.examples else ""))
        for name, card, now in r.metrics:
            print(f"  {name}: {'recorded' if r.examples else 'card'} {card:.6f}, now {now:.6f}")
        for problem in r.problems:
            print(f"  {problem}")
    return 0 if all(r.status == "ok" for r in results) else 1


def cmd_export(args: argparse.Namespace) -> int:
    from .export import export, push

    result = export(args.name, args.dir)
    print(f"exported {result.card.name} -> {args.dir / result.file} and {args.dir / 'README.md'}")
    print(f"  sha256 {result.sha256}, size {len(result.data)}")
    if args.push:
        url = push(args.dir, args.push, result.file)
        print(f"pushed to {args.push}; register it with: {url} (sha256 {result.sha256}, size {len(result.data)})")
    return 0
