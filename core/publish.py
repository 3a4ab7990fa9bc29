"""Publishing a finished run as a zoo entry, and rebuilding an entry from its card.

``publish`` turns ``RUN_DIR`` (``config.json``, ``model.safetensors``) into
``OUT/arch.tag.safetensors`` whose header carries the model card, re-evaluates
the weights on the CPU for the card's metrics, and records the file's sha256
and size in ``OUT/index.json`` (``README.md`` beside it lists the entries).

``rebuild`` trains again with the card's command, publishes the result and
compares it with the card. The file's own sha256 cannot match (the card holds
its publication date), so weights are compared by ``weights_sha256``, a hash
over the tensors alone; on the CPU with the same seed, training is bitwise
repeatable and the two agree.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .card import DataRecord, Environment, Evaluation, MetricRecord, ModelCard, read_card
from .errors import ConfigError, DpzooError, IntegrityError

# run-record keys the card keeps elsewhere (or drops: where the run was written)
RUN_ONLY = {"model", "data", "command", "created", "dpzoo_version", "data_fingerprints", "environment", "logdir", "run_name"}
EVAL_SPLITS = ("test", "validation")
COMMAND_PREFIXES = (["dpzoo", "train"], ["python", "tools/train.py"], ["tools/train.py"])


def publish(
    run_dir: str | Path,
    name: str,
    *,
    out_dir: str | Path | None = None,
    summary: str = "",
    notes: list[str] | tuple[str, ...] = (),
    default: bool | None = None,
    licence: str = "MIT",
    threads: int | None = None,
) -> tuple[Path, ModelCard]:
    """Write ``out_dir/name.safetensors`` with its card and index it; returns (path, card).

    ``threads`` is the number of CPU threads the run trained with; a run that
    recorded its ``environment`` says it itself, otherwise it defaults to this
    process's ``torch.get_num_threads()``.
    """
    from safetensors.torch import load_file

    from . import pretrained
    from .run import load_run_config
    from .safetensors_file import read_header, tensors_sha256
    from .files import atomic_save_tensors
    from .verify import evaluate_on_cpu, load_data

    run_dir = Path(run_dir)
    config = load_run_config(run_dir)
    source = run_dir / "model.safetensors"
    if not source.exists():
        raise DpzooError(f"{run_dir} has no model.safetensors: the run has not finished (resume it with --resume {run_dir})")
    arch = config["model"]["name"]
    if not pretrained._NAME.match(name) or name.partition(".")[0] != arch:
        raise ConfigError(f"name {name!r} must be {arch}.TAG: the run trained {arch!r} (e.g. {arch}.{config['data']['name']})")
    if not config.get("command"):
        raise ConfigError(
            f"{run_dir} records no command, so nobody could rebuild it; train it with `dpzoo train` or tools/train.py"
        )

    model_config = {k: v for k, v in config["model"].items() if k != "name"}
    header = read_header(source)
    model = pretrained._load(header, arch, model_config, {})
    splits = [s for s in EVAL_SPLITS if s in config.get("data_fingerprints", {})]
    if not config["trainer"].get("test", True):
        splits = [s for s in splits if s != "test"]
    loaded = load_data(config["data"], splits)
    for split in splits:
        if loaded.fingerprints[split] != config["data_fingerprints"][split]:
            raise IntegrityError(
                f"split {split!r} of {config['data']['name']!r} is not the one {run_dir} trained with "
                f"(fingerprint {loaded.fingerprints[split]}, the run recorded {config['data_fingerprints'][split]})"
            )
    batch_size = config["trainer"].get("eval_batch_size", 1024)
    metrics = []
    for split in splits:
        values = evaluate_on_cpu(model, config, loaded.data, split, batch_size)
        for key in _ordered(values, split, config.get("metrics") or []):
            metrics.append(MetricRecord(name=key, value=values[key], split=split, how=_how(key, config, loaded, batch_size)))

    card = ModelCard(
        name=name,
        arch=arch,
        summary=summary,
        config=model_config,
        data=DataRecord(
            name=config["data"]["name"],
            config=config["data"],
            fingerprints=config["data_fingerprints"],
            examples=loaded.examples,
            licence=loaded.licence,
        ),
        metrics=metrics,
        evaluation=Evaluation(device="cpu", precision="32", batch_size=batch_size),
        command=config["command"],
        run={k: v for k, v in config.items() if k not in RUN_ONLY},
        environment=config.get("environment") or _environment(config, threads),
        dpzoo_version=config.get("dpzoo_version", ""),
        seed=config["trainer"]["seed"],
        licence=licence,
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        weights_sha256=tensors_sha256(source, header),
        notes=list(notes),
    )
    out_dir = Path(out_dir) if out_dir is not None else pretrained.zoo_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{name}.safetensors"
    atomic_save_tensors(load_file(str(source)), target, metadata=card.to_metadata())
    os.chmod(target, 0o644)  # published to be read by others (the temporary file was private)
    if tensors_sha256(target) != card.weights_sha256:  # pragma: no cover - would be a bug in saving
        raise IntegrityError(f"{target} was written with different tensors than {source}")
    add_to_index(out_dir, card, target, default)
    return target, card


def _environment(config: dict[str, Any], threads: int | None) -> Environment:
    import torch

    return Environment(
        torch=torch.__version__.split("+")[0],
        threads=threads or torch.get_num_threads(),
        cpu_capability=torch.backends.cpu.get_cpu_capability(),
        device=config["trainer"].get("device", "auto"),
    )


def _ordered(values: dict[str, float], split: str, metric_names: list[str]) -> list[str]:
    """The run's named metrics first (the first is the headline), then the loss and its terms."""
    named = [f"{split}/{m}" for m in metric_names if f"{split}/{m}" in values]
    return named + [k for k in values if k not in named]


def _how(key: str, config: dict[str, Any], loaded, batch_size: int) -> str:
    split, _, what = key.partition("/")
    if what in (config.get("metrics") or []):
        kind = f"metric {what!r}"
    elif what == "loss":
        kind = f"loss {(config.get('loss') or {}).get('name')!r} with the run's loss options"
    else:
        kind = f"loss term {what!r}"
    return (
        f"{kind}, mean over all {loaded.examples.get(split)} examples of split {split!r} "
        f"(fingerprint on the card); model.eval(), torch.no_grad(), CPU float32, batches of {batch_size} in order "
        "(dpzoo.trainer.evaluate)"
    )


# -- the index ------------------------------------------------------------------
def add_to_index(out_dir: Path, card: ModelCard, path: Path, default: bool | None) -> None:
    """Record ``path``'s sha256 and size in ``out_dir/index.json`` and refresh ``README.md``."""
    from . import hub
    from .pretrained import INDEX, read_index
    from .files import atomic_write_bytes

    index = read_index(out_dir)
    entries = index["entries"]
    same_arch = [n for n in entries if n.partition(".")[0] == card.arch and n != card.name]
    if default is None:
        default = entries.get(card.name, {}).get("default", not any(entries[n].get("default") for n in same_arch))
    if default:
        for n in same_arch:
            entries[n]["default"] = False
    headline = card.headline
    entries[card.name] = {
        "file": path.name,
        "sha256": hub.sha256_of(path),
        "size": path.stat().st_size,
        "default": bool(default),
        "summary": card.summary,
        "headline": {"name": headline.name, "value": headline.value} if headline else None,
    }
    index["entries"] = dict(sorted(entries.items()))
    atomic_write_bytes(out_dir / INDEX, (json.dumps(index, indent=2) + "\n").encode())
    atomic_write_bytes(out_dir / "README.md", readme(out_dir).encode())


def readme(out_dir: Path) -> str:
    """``README.md`` of a zoo directory: one row per entry, from the index and the cards."""
    from .pretrained import read_index

    lines = [
        "# dpzoo's pretrained weights",
        "",
        "Each file holds one set of weights and, in its safetensors header, the model card",
        "(architecture and config, data and split fingerprints, metrics, the command that",
        "trained it). `index.json` records each file's sha256 and size; every load checks them.",
        "This file is written by `dpzoo zoo publish`.",
        "",
        "```python",
        "import dpzoo",
        'model = dpzoo.create_model("NAME", pretrained=True)',
        'print(dpzoo.model_card("NAME").render())',
        "```",
        "",
        "`dpzoo zoo verify` re-checks every file's hash and re-evaluates every card metric on its",
        "recorded split. `dpzoo zoo build NAME` retrains an entry with its card's command and CPU",
        "thread count and compares the tensors' sha256 (`weights_sha256`; the file's own sha256",
        "differs because the card records when it was published).",
        "",
        "| name | headline | data | weights licence | data licence | command |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, row in read_index(out_dir)["entries"].items():
        card = read_card(out_dir / row["file"])
        headline = card.headline
        shown = f"{headline.name} = {headline.value:.4f}" if headline else ""
        default = " (default)" if row.get("default") else ""
        lines.append(
            f"| `{name}`{default} | {shown} | {card.data.name} | {card.licence} | {card.data.licence} | `{card.command}` |"
        )
    notes = [(name, note) for name, row in read_index(out_dir)["entries"].items() for note in read_card(out_dir / row["file"]).notes]
    if notes:
        lines += ["", "Notes:", ""] + [f"- `{name}`: {note}" for name, note in notes]
    return "\n".join(lines) + "\n"


# -- rebuilding -----------------------------------------------------------------
def config_from_command(command: str) -> dict[str, Any]:
    """The run config that a recorded ``dpzoo train ...`` command asks for."""
    from .cli import build_parser, run_config_from_args

    argv = shlex.split(command)
    for prefix in COMMAND_PREFIXES:
        if argv[: len(prefix)] == prefix:
            args = build_parser().parse_args(["train", *argv[len(prefix):]])
            if args.resume:
                raise ConfigError(f"cannot rebuild from a resumed run's command: {command}")
            return run_config_from_args(args)
    raise ConfigError(f"cannot rebuild from {command!r}: it is not a `dpzoo train ...` command")


@dataclass
class BuildReport:
    card: ModelCard  # the card rebuilt against
    rebuilt: ModelCard
    path: Path | None  # where the rebuilt file was published (None: a temporary directory)
    seconds: float
    drift: list[str] = field(default_factory=list)  # config values that resolve differently today

    @property
    def same_environment(self) -> bool:
        """Whether PyTorch, the CPU kernels and the thread count match: what bitwise equality needs."""
        a, b = self.card.environment, self.rebuilt.environment
        return (a.torch, a.cpu_capability, a.threads, a.device) == (b.torch, b.cpu_capability, b.threads, b.device)

    @property
    def same_weights(self) -> bool:
        return self.card.weights_sha256 == self.rebuilt.weights_sha256

    def metric_differences(self) -> list[tuple[str, float, float]]:
        rebuilt = {m.name: m.value for m in self.rebuilt.metrics}
        return [
            (m.name, m.value, rebuilt.get(m.name, float("nan")))
            for m in self.card.metrics
            if not abs(rebuilt.get(m.name, float("nan")) - m.value) <= self.card.tolerance
        ]


def rebuild(name: str, out_dir: str | Path | None = None, announce=None) -> BuildReport:
    """Train ``name`` again with its card's command, publish it (to ``out_dir``) and compare."""
    from .pretrained import model_card, resolve
    from .run import load_run_config, train

    card = model_card(name)
    default = resolve(name).default if not name.endswith(".safetensors") else None
    config = config_from_command(card.command)
    threads = card.environment.threads
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="dpzoo-build-") as tmp, cpu_threads(threads):
        result = train({**config, "logdir": tmp, "run_name": "build"}, command=card.command, announce=announce)
        seconds = time.perf_counter() - started
        drift = config_drift(card, load_run_config(result.run_dir))
        target = Path(out_dir) if out_dir is not None else Path(tmp) / "published"
        path, rebuilt = publish(
            result.run_dir, card.name, out_dir=target, summary=card.summary, notes=card.notes,
            default=default, licence=card.licence, threads=threads,
        )
    if rebuilt.data.fingerprints != card.data.fingerprints:
        drift.append(f"data fingerprints: card {card.data.fingerprints}, now {rebuilt.data.fingerprints}")
    return BuildReport(card, rebuilt, path if out_dir is not None else None, seconds, drift)


@contextlib.contextmanager
def cpu_threads(n: int | None):
    """Run the block with ``torch.set_num_threads(n)`` (the card's training thread count)."""
    import torch

    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def config_drift(card: ModelCard, config: dict[str, Any]) -> list[str]:
    """Where today's resolution of the command differs from the card's record."""
    recorded = {"model": {"name": card.arch, **card.config}, "data": card.data.config, **card.run}
    now = {k: v for k, v in config.items() if k in recorded}
    return [f"{key}: card {a!r}, now {b!r}" for key, a, b in _differences(recorded, now, "")]


def _differences(a: Any, b: Any, prefix: str):
    if isinstance(a, dict) and isinstance(b, dict):
        # an option added to dpzoo after the card was made is not drift: the weights comparison says whether it matters
        for key in sorted(a):
            yield from _differences(a.get(key), b.get(key), f"{prefix}{key}.")
    elif a != b:
        yield prefix.rstrip("."), a, b
