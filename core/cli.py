"""The ``dpzoo`` command: train, list, info, plugins (and zoo, see ``zoo_cli``)."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from .errors import DpzooError

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
    p.add_argument("--config", type=Path, help="YAML or JSON run config; flags and --set override it")
    p.add_argument("--set", dest="assignments", action="append", default=[], metavar="KEY=VALUE",
                   help="set any config value, e.g. --set model.hidden=[128,64] --set trainer.grad_clip=1.0")
    p.add_argument("--epochs", type=int)
    p.add_argument("--max-steps", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float, help="learning rate of the optimiser")
    p.add_argument("--device", help="auto (cuda > mps > cpu), cpu, cuda, mps")
    p.add_argument("--seed", type=int)
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
    import yaml

    if not path.exists():
        raise DpzooError(f"config file {path} does not exist")
    data = yaml.safe_load(path.read_text())  # JSON is YAML too
    if not isinstance(data, dict):
        raise DpzooError(f"config file {path} must hold a mapping, got {type(data).__name__}")
    return data


def cmd_train(args: argparse.Namespace, argv: list[str]) -> int:
    from .run import train

    config = run_config_from_args(args)
    if args.resume is None:
        missing = [flag for flag in ("model", "data") if flag not in config]
        if missing:
            raise DpzooError(f"missing --{' and --'.join(missing)} (or set them in --config)")

    def announce(run_dir: Path, resolved: dict[str, Any]) -> None:
        verb = "resuming" if args.resume else "training"
        print(f"{verb} {resolved['model']['name']} on {resolved['data']['name']} -> {run_dir}", flush=True)

    result = train(config, resume=args.resume, command="dpzoo train " + shlex.join(argv), announce=announce)
    if not result.trainer.distributed.is_main:
        return 0
    print(f"run: {result.run_dir}")
    for key, value in result.metrics.items():
        print(f"  {key}: {value:.4f}" if isinstance(value, float) else f"  {key}: {value}")
    print(f"watch it: tensorboard --logdir {result.run_dir.parent}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from .components import registry
    from .registry import KINDS

    if args.pretrained or args.kind == "pretrained":
        from . import pretrained

        rows = pretrained.list_rows(args.pattern)
        if args.json:
            print(json.dumps(rows, indent=2))
        else:
            for row in rows:
                print(f"{row['name']:<24} {row['headline']:<28} {row['summary']}")
        return 0
    kinds = [args.kind] if args.kind else [k for k in KINDS if k != "pretrained"]
    rows = []
    for kind in kinds:
        for entry in registry().entries(kind, args.pattern):
            rows.append({
                "name": entry.name,
                "kind": kind,
                "plugin": entry.plugin,
                "qualified_name": entry.qualified_name,
                "summary": entry.summary,
                "distribution": entry.distribution,
                "version": entry.version,
            })
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for kind in kinds:
        these = [r for r in rows if r["kind"] == kind]
        if not these:
            continue
        print(f"{kind}es:" if kind.endswith("s") else f"{kind}s:")
        width = max(len(r["name"]) for r in these)
        for r in these:
            print(f"  {r['name']:<{width}}  [{r['plugin']}]  {r['summary']}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from . import pretrained
    from .components import registry
    from .registry import KINDS

    if args.kind == "pretrained" or (args.kind is None and pretrained.is_pretrained_name(args.name)):
        print(pretrained.model_card(args.name).render())
        return 0
    kinds = [args.kind] if args.kind else [k for k in KINDS if k != "pretrained"]
    entries = [e for kind in kinds for e in registry().entries(kind) if args.name in (e.name, e.qualified_name)]
    if not entries:
        registry().get(args.kind or "model", args.name)  # raises with suggestions
    for entry in entries:
        print(f"{entry.kind} {entry.qualified_name}: {entry.summary}")
        print(f"  plugin: {entry.plugin} ({entry.distribution or 'in-process'} {entry.version or ''})".rstrip())
        print(f"  target: {entry.target if entry.is_lazy else repr(entry.target)}")
        cls = getattr(entry.load(), "Config", None)
        if cls is not None and cls.model_fields:
            print("  options:")
            for field_name, field in cls.model_fields.items():
                default = field.get_default(call_default_factory=True)
                print(f"    {field_name} = {default!r}  {field.description or ''}".rstrip())
        doc = (entry.load().__doc__ or "").strip()
        if doc:
            print("  " + doc.splitlines()[0])
    return 0


def cmd_plugins(args: argparse.Namespace) -> int:
    from . import list_plugins

    plugins = list_plugins()
    if args.json:
        print(json.dumps(plugins, indent=2))
        return 0
    for p in plugins:
        version = f" {p['version']}" if p["version"] else ""
        print(f"{p['name']}{version} [{p['status']}] ({p['distribution'] or 'in-process'}: {p['module']})")
        if p["error"]:
            print(f"  error: {p['error']}")
        for kind, names in p["registers"].items():
            print(f"  {kind}: {', '.join(names)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dpzoo", description="Model zoo and trainer for the book's models")
    parser.add_argument("--version", action="version", version=f"dpzoo {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a registered model on a registered dataset")
    add_train_arguments(p)

    p = sub.add_parser("list", help="list registered components (models by default with --kind model)")
    p.add_argument("pattern", nargs="?", default="*", help="wildcard pattern, e.g. 'mlp*'")
    p.add_argument("--kind", help="model, loss, optimiser, scheduler, relaxation, dataset or metric")
    p.add_argument("--pretrained", action="store_true", help="list the zoo's pretrained arch.tag entries")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("info", help="describe a component or a pretrained entry")
    p.add_argument("name")
    p.add_argument("--kind")

    p = sub.add_parser("plugins", help="list discovered plugins and their status")
    p.add_argument("--json", action="store_true")

    from . import zoo_cli
    from .plugin_manager import host

    zoo_cli.add_parser(sub)
    host().add_commands(sub)  # plugins' commands (dpzoo_register_commands), after the built-in ones
    return parser


def _version() -> str:
    from . import __version__

    return __version__


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser()  # loads the plugins, for their commands: strict mode may refuse a broken one
    except DpzooError as exc:
        print(f"dpzoo: error: {exc}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    try:
        if args.command == "train":
            return cmd_train(args, argv[1:])
        if args.command == "list":
            return cmd_list(args)
        if args.command == "info":
            return cmd_info(args)
        if args.command == "plugins":
            return cmd_plugins(args)
        return args.handler(args)
    except DpzooError as exc:
        print(f"dpzoo: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("dpzoo: interrupted; resume the run with --resume RUN_DIR", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
