"""The ``dpzoo`` command: train, list, info, plugins (and zoo, see ``pretrained.cli``).

The command is the error boundary: every ``DpzooError``, ``OSError`` (a full or
read-only disk, a missing file) and config-file error ends as one line naming
the file or option and the fix, with exit status 2; ``--debug`` (or
``DPZOO_DEBUG=1``) shows the traceback instead. Argument errors are answered
before torch is imported.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

from .env import env_flag
from .errors import DpzooError
from .provenance import version
from .registry import KINDS
from .train_command import add_train_arguments, run_config_from_args


def cmd_train(args: argparse.Namespace, argv: list[str]) -> int:
    from .device_names import check_device_name
    from .rundir import check_run_name

    config = run_config_from_args(args)  # everything below is checked before torch is imported
    if args.resume is None:
        missing = [flag for flag in ("model", "data") if flag not in config]
        if missing:
            raise DpzooError(f"missing --{' and --'.join(missing)} (or set them in --config)")
        if config.get("run_name") is not None:
            check_run_name(config["run_name"])
    device = config.get("trainer", {}).get("device") if isinstance(config.get("trainer"), dict) else None
    if isinstance(device, str):
        check_device_name(device)

    from .run import train

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


def print_pretrained(rows: list[dict]) -> None:
    """A header, then one line per entry; ``*`` marks the tag an architecture's name alone loads."""
    width = max([len(r["name"]) + 2 for r in rows] + [24])
    print(f"{'NAME':<{width}} {'HEADLINE':<32} SUMMARY")
    for row in rows:
        name = row["name"] + (" *" if row["default"] else "")
        print(f"{name:<{width}} {row['headline']:<32} {row['summary']}")
    if any(row["default"] for row in rows):
        print("* the default tag: `dpzoo.create_model(ARCH, pretrained=True)` loads it")


def cmd_list(args: argparse.Namespace) -> int:
    from .components import registry

    if args.pretrained or args.kind == "pretrained":
        from . import pretrained

        with _results_only(args.json):
            rows = pretrained.list_rows(args.pattern)
        if args.json:
            print(json.dumps(rows, indent=2))
        else:
            print_pretrained(rows)
        return 0
    kinds = [args.kind] if args.kind else [k for k in KINDS if k != "pretrained"]
    rows = []
    with _results_only(args.json):
        entries = [(kind, entry) for kind in kinds for entry in registry().entries(kind, args.pattern)]
    if not entries:
        _no_match(args.pattern, kinds)
    for kind, entry in entries:
        rows.append(
            {
                "name": entry.name,
                "kind": kind,
                "plugin": entry.plugin,
                "qualified_name": entry.qualified_name,
                "summary": entry.summary,
                "distribution": entry.distribution,
                "version": entry.version,
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0 if rows else 1
    for kind in kinds:
        these = [r for r in rows if r["kind"] == kind]
        if not these:
            continue
        print(f"{kind}es:" if kind.endswith("s") else f"{kind}s:")
        width = max(len(r["name"]) for r in these)
        for r in these:
            print(f"  {r['name']:<{width}}  [{r['plugin']}]  {r['summary']}")
    return 0 if rows else 1  # as grep: nothing matched


def _no_match(pattern: str, kinds: list[str]) -> None:
    """Say on stderr that ``pattern`` matched nothing, and how to see what there is."""
    from .components import registry
    from .errors import closest

    names = [e.name for kind in kinds for e in registry().entries(kind)]
    near = closest(pattern.strip("*?"), names, n=3) if pattern != "*" else []
    hints = [f"did you mean {' or '.join(near)}?"] if near else []
    if not any(c in pattern for c in "*?["):
        hints.append(f"names containing it: '*{pattern}*'")
    what = " or ".join(kinds) if len(kinds) < 3 else "component"
    hint = f" ({'; '.join(hints)})" if hints else ""
    print(f"dpzoo: no {what} matches {pattern!r}{hint}; `dpzoo list` shows every one", file=sys.stderr)


def cmd_info(args: argparse.Namespace) -> int:
    from . import pretrained
    from .components import registry

    if args.markdown:  # a pretrained entry's card as the Hub's README.md (what `dpzoo zoo export` writes)
        from .pretrained.export import exported

        print(exported(args.name).readme, end="")
        return 0
    if args.kind == "pretrained" or (args.kind is None and pretrained.is_pretrained_name(args.name)):
        print(pretrained.model_card(args.name).render())
        return 0
    from . import describe

    kinds = [args.kind] if args.kind else [k for k in KINDS if k != "pretrained"]
    entries = [e for kind in kinds for e in registry().entries(kind) if args.name in (e.name, e.qualified_name)]
    if not entries and args.kind is None and args.name == "trainer":
        print(describe.trainer())
        return 0
    if not entries:
        registry().get(args.kind or "model", args.name)  # raises with suggestions
    print("\n\n".join(describe.component(entry) for entry in entries))
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    import time

    from . import runs
    from .errors import ConfigError, closest

    rows = runs.scan(args.logdir)
    if args.sort:
        known = sorted({k for row in rows for k in row.metrics})
        if rows and args.sort not in known:
            near = closest(args.sort, known, n=1)
            hint = f"did you mean {near[0]!r}? " if near else ""
            raise ConfigError(
                f"--sort {args.sort}: no run has it; {hint}the runs have: {', '.join(known) or 'no metrics yet'}"
            )
        rows = runs.sort_rows(rows, args.sort, runs.higher_is_better(args.sort))
    now = time.time()
    if args.json:
        print(json.dumps([row.as_json(now) for row in rows], indent=2))
        return 0
    if not rows:
        print(f"no runs under {args.logdir}")
        return 0
    print(runs.table(rows, now, args.sort))
    for row in rows:
        if row.status == "broken":
            print(f"{row.name}: broken: {row.reason}")
    return 0


def _results_only(json_output: bool):
    """While ``--json`` output is computed, anything else printed (a plugin's chatter) goes to stderr."""
    return contextlib.redirect_stdout(sys.stderr) if json_output else contextlib.nullcontext()


def cmd_plugins(args: argparse.Namespace) -> int:
    from . import list_plugins

    with _results_only(args.json):
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


class DefaultsFormatter(argparse.HelpFormatter):
    """Help that ends each option with its default, unless it has none or already says it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if "default" in text or default in (None, False, argparse.SUPPRESS) or default == []:
            return text
        return f"{text} (default: %(default)s)".lstrip()


class Parser(argparse.ArgumentParser):
    """``dpzoo``'s parser: every sub-command's (and plugins' commands') help shows the defaults."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", DefaultsFormatter)
        super().__init__(*args, **kwargs)


def build_parser(plugins: bool = True) -> argparse.ArgumentParser:
    """The whole command line; ``plugins=False`` leaves out the plugins' commands (and so loads no plugin)."""
    parser = Parser(prog="dpzoo", description="Model zoo and trainer for the book's models")
    parser.add_argument("--version", action="version", version=f"dpzoo {version()}")
    parser.add_argument(
        "--debug", action="store_true", help="show tracebacks instead of one-line errors (or DPZOO_DEBUG=1)"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    debug = argparse.ArgumentParser(add_help=False)  # `--debug` also after the command
    debug.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    _add_parser = sub.add_parser
    # every subcommand, plugins' included, gets --debug: add_parser is wrapped on purpose
    sub.add_parser = lambda *a, **k: _add_parser(*a, parents=[debug, *k.pop("parents", [])], **k)  # type: ignore[method-assign,list-item]

    p = sub.add_parser("train", help="train a registered model on a registered dataset")
    add_train_arguments(p)

    p = sub.add_parser("list", help="list registered components, every kind (--kind K for one)")
    p.add_argument("pattern", nargs="?", default="*", help="wildcard pattern, e.g. 'mlp*'")
    p.add_argument("--kind", choices=list(KINDS), help="the kind of component to list")
    p.add_argument("--pretrained", action="store_true", help="list the zoo's pretrained arch.tag entries")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")

    p = sub.add_parser("info", help="describe a component, a pretrained entry, or the trainer's options (info trainer)")
    p.add_argument("name", help="a component (mlp, digits, adam), a pretrained entry (mlp.digits) or 'trainer'")
    p.add_argument("--kind", choices=list(KINDS), help="look only among this kind of component")
    p.add_argument(
        "--markdown",
        action="store_true",
        help="a pretrained entry's card as the Hub's README.md (see `dpzoo zoo export`)",
    )

    p = sub.add_parser(
        "runs", help="every run under a logdir: progress, status (running, finished, interrupted, broken), metrics"
    )
    p.add_argument("logdir", nargs="?", default="runs", help="the folder that holds the runs (dpzoo train --logdir)")
    p.add_argument("--json", action="store_true", help="one JSON object per run, with the reason for its status")
    p.add_argument("--sort", metavar="METRIC", help="best first by this metric, e.g. validation/accuracy")

    p = sub.add_parser("plugins", help="list discovered plugins and their status")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")

    from . import scaffold
    from .pretrained import cli as zoo_cli

    zoo_cli.add_parser(sub)
    scaffold.add_parser(sub)
    if plugins:
        from .plugin_manager import host

        host().add_commands(sub)  # plugins' commands (dpzoo_register_commands), after the built-in ones
    return parser


def _parser_for(argv: list[str]) -> argparse.ArgumentParser:
    """The parser ``argv`` needs: without the plugins for ``--version`` and the built-in commands.

    Loading every plugin only to list its commands would make ``dpzoo --version``
    and each argument error of ``dpzoo train`` wait for it; ``--help``, no command
    or another command (a plugin's, or a misspelt one, whose error lists them all)
    loads them.
    """
    builtin = build_parser(plugins=False)
    subparsers = next(a for a in builtin._actions if isinstance(a, argparse._SubParsersAction))
    commands = subparsers.choices  # argparse keeps sub-commands here, and nowhere public
    for arg in argv:
        if arg == "--version":
            return builtin
        if arg in ("-h", "--help"):
            break
        if not arg.startswith("-"):
            if arg in commands:
                return builtin
            break
    return build_parser()  # loads the plugins, for their commands: strict mode may refuse a broken one


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = _parser_for(argv)
    except DpzooError as exc:
        print(f"dpzoo: error: {exc}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    debug = getattr(args, "debug", False) or env_flag("DPZOO_DEBUG")
    command_argv = [a for a in argv if a != "--debug"]
    try:
        if args.command == "train":
            return cmd_train(args, command_argv[command_argv.index("train") + 1 :])
        if args.command == "list":
            return cmd_list(args)
        if args.command == "info":
            return cmd_info(args)
        if args.command == "plugins":
            return cmd_plugins(args)
        if args.command == "runs":
            return cmd_runs(args)
        return args.handler(args)
    except DpzooError as exc:
        if debug:
            raise
        code = getattr(exc, "exit_code", 2)
        plain = code == 0 or code >= 128  # a finished run, or a stop on a signal: not errors
        print(f"dpzoo: {exc}" if plain else f"dpzoo: error: {exc}", file=sys.stdout if code == 0 else sys.stderr)
        return code
    except BrokenPipeError:  # `dpzoo list | head`: the reader left; say nothing, as cat and ls do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes at exit
        return 141
    except OSError as exc:
        if debug:
            raise
        print(f"dpzoo: error: {describe_os_error(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if debug:
            raise
        print("dpzoo: interrupted outside a training step; nothing was saved by this command", file=sys.stderr)
        return 130


def describe_os_error(exc: OSError) -> str:
    """One line: what failed, on which file, and what to do about it."""
    where = f" {exc.filename}" if exc.filename else ""
    if exc.filename2:
        where += f" -> {exc.filename2}"
    fixes = {
        errno.ENOSPC: "free some space, or write the run elsewhere with --logdir; a run's last complete checkpoint is kept",
        errno.EDQUOT: "free some space, or write the run elsewhere with --logdir",
        errno.EROFS: "that file system is read-only: write the run elsewhere with --logdir",
        errno.EACCES: "no permission: write the run elsewhere with --logdir, or fix the folder's permissions",
        errno.EPERM: "no permission: write the run elsewhere with --logdir, or fix the folder's permissions",
        errno.ENOENT: "check the path",
        errno.EISDIR: "a folder was given where a file is expected: check the path",
        errno.ENOTDIR: "a file is in the way of a folder in that path: check the path",
    }
    fix = fixes.get(exc.errno or 0, "check the path and the disk, or rerun with --debug for the traceback")
    return f"{exc.strerror or type(exc).__name__}:{where}; {fix}"


if __name__ == "__main__":
    sys.exit(main())
