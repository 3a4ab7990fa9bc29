"""Publishing a finished run as a zoo entry: its weights, its model card, its index row.

``publish`` turns ``RUN_DIR`` (``config.json``, ``model.safetensors``) into
``OUT/arch.tag.safetensors`` whose header carries the model card, re-evaluates
the weights on the CPU for the card's metrics, and records the file's sha256
and size in ``OUT/index.json`` (``README.md`` beside it lists the entries), and
the same metrics on the first examples of each split in ``OUT/subsets.json``
(the quick re-check's reference, see ``subsets``).

``rebuild`` (its own module) trains an entry again and publishes the result
with this module.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DpzooError, IntegrityError
from ..files import atomic_write_bytes
from ..provenance import environment
from ..registry import ZooName
from . import entries, loading, sources, subsets
from .card import (
    DEFAULT_REBUILD_TOLERANCE,
    DataRecord,
    Environment,
    Evaluation,
    MetricRecord,
    ModelCard,
    card_from_header,
    read_card,
)
from .safetensors_file import parse_header, tensors_sha256
from .verify import evaluate_on_cpu, load_data, subset_figures

# run-record keys the card keeps elsewhere (or drops: where the run was written)
RUN_ONLY = {
    "model",
    "data",
    "command",
    "created",
    "dpzoo_version",
    "data_fingerprints",
    "environment",
    "logdir",
    "run_name",
}
EVAL_SPLITS = ("test", "validation")


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
    rebuild_tolerance: dict[str, float] | None = None,
) -> tuple[Path, ModelCard]:
    """Write ``out_dir/name.safetensors`` with its card and index it; returns (path, card).

    ``threads`` is the number of CPU threads the run trained with; a run that
    recorded its ``environment`` says it itself, otherwise it defaults to this
    process's ``torch.get_num_threads()``. ``rebuild_tolerance`` maps metric
    names to how far a rebuild on other CPU kernels may move them (absolute;
    default ``DEFAULT_REBUILD_TOLERANCE`` each), recorded on the card.
    """
    from safetensors.torch import load as tensors_from, save

    from ..run import load_run_config

    run_dir = Path(run_dir)
    config = load_run_config(run_dir)
    source = run_dir / "model.safetensors"
    if not source.exists():
        raise DpzooError(
            f"{run_dir} has no model.safetensors: the run has not finished (resume it with --resume {run_dir})"
        )
    arch = config["model"]["name"]
    parsed = ZooName.parse(name)
    if parsed.source is not None or not parsed.is_entry or parsed.arch != arch:
        raise ConfigError(
            f"name {name!r} must be {arch}.TAG: the run trained {arch!r} (e.g. {arch}.{config['data']['name']})"
        )
    if not config.get("command"):
        raise ConfigError(
            f"{run_dir} records no command, so nobody could rebuild it; train it with `dpzoo train` or tools/train.py"
        )

    model_config = {k: v for k, v in config["model"].items() if k != "name"}
    data = source.read_bytes()
    header = parse_header(data, len(data), source)
    model = loading.load(data, header, arch, model_config, {})
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
            metrics.append(
                MetricRecord(name=key, value=values[key], split=split, how=_how(key, config, loaded, batch_size))
            )

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
        environment=Environment(
            **(config.get("environment") or environment(config["trainer"].get("device", "cpu"), threads))
        ),
        dpzoo_version=config.get("dpzoo_version", ""),
        seed=config["trainer"]["seed"],
        licence=licence,
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        weights_sha256=tensors_sha256(header, data),
        rebuild_tolerance={m.name: (rebuild_tolerance or {}).get(m.name, DEFAULT_REBUILD_TOLERANCE) for m in metrics},
        notes=list(notes),
    )
    quick = subset_figures(model, config, loaded.data, splits, batch_size)  # the quick re-check's reference
    unknown = sorted(set(rebuild_tolerance or {}) - {m.name for m in metrics})
    if unknown:
        raise ConfigError(
            f"rebuild tolerances for metrics the card does not have: {unknown}; it has {[m.name for m in metrics]}"
        )
    out_dir = Path(out_dir) if out_dir is not None else entries.zoo_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{name}.safetensors"
    published = save(tensors_from(data), metadata=card.to_metadata())
    if (
        tensors_sha256(parse_header(published, len(published), target), published) != card.weights_sha256
    ):  # pragma: no cover
        raise IntegrityError(f"{target} would be written with different tensors than {source}")  # a bug in saving
    atomic_write_bytes(target, published)
    add_to_index(out_dir, card, target, published, default)
    subsets.record(out_dir, hashlib.sha256(published).hexdigest(), name, {m.name: quick[m.name] for m in metrics})
    return target, card


def _ordered(values: dict[str, float], split: str, metric_names: list[str]) -> list[str]:
    """The run's named metrics first (the first is the headline), then the loss and its terms."""
    named = [f"{split}/{m}" for m in metric_names if f"{split}/{m}" in values]
    return named + [k for k in values if k not in named]


def _how(key: str, config: dict[str, Any], loaded, batch_size: int) -> str:
    from ..components import create
    from ..trainer.evaluation import accumulates

    split, _, what = key.partition("/")
    over = "mean over"
    if what in (config.get("metrics") or []):
        kind = f"metric {what!r}"
        if accumulates(create("metric", what)):  # a Fréchet distance, bits per token: not a mean of per-example values
            over = "computed once from"
    elif what == "loss":
        kind = f"loss {(config.get('loss') or {}).get('name')!r} with the run's loss options"
    else:
        kind = f"loss term {what!r}"
    return (
        f"{kind}, {over} all {loaded.examples.get(split)} examples of split {split!r} "
        f"(fingerprint on the card); model.eval(), torch.no_grad(), CPU float32, {_batches(loaded, batch_size)} "
        "(dpzoo.trainer.evaluate)"
    )


def _batches(loaded, batch_size: int) -> str:
    """How evaluation cut the split: batches of examples, or a sequence's rows and windows (``SequenceSpec``)."""
    spec = getattr(getattr(loaded, "data", None), "spec", None)
    if spec is None:
        return f"batches of {batch_size} in order"
    cut = f"{spec.eval_rows} rows read {spec.block} positions at a time, in order"
    if spec.eval_overlap:
        cut += (
            f", each window re-reading the last {spec.eval_overlap} of the one before as context, so every position "
            f"after a row's first window is predicted from at least {spec.eval_overlap} before it"
        )
    return cut


# -- the index ------------------------------------------------------------------
def add_to_index(out_dir: Path, card: ModelCard, path: Path, data: bytes, default: bool | None) -> None:
    """Record the sha256 and size of ``data`` (``path``'s bytes) in ``out_dir/index.json``; refresh ``README.md``."""
    if tensors_sha256(parse_header(data, len(data), path), data) != card.weights_sha256:
        raise IntegrityError(
            f"{path}: its tensors do not hash to its card's weights_sha256; the index will not vouch for it"
        )
    index = entries.read_index(out_dir).model_copy(deep=True)
    rows = index.entries
    same_arch = [n for n in rows if ZooName.parse(n).arch == card.arch and n != card.name]
    if default is None:
        default = rows[card.name].default if card.name in rows else not any(rows[n].default for n in same_arch)
    if default:
        for n in same_arch:
            rows[n].default = False
    rows[card.name] = index_row(card, path.name, hashlib.sha256(data).hexdigest(), len(data), bool(default))
    index.entries = dict(sorted(rows.items()))
    atomic_write_bytes(out_dir / entries.INDEX, (index.model_dump_json(indent=2) + "\n").encode())
    atomic_write_bytes(out_dir / "README.md", readme(out_dir).encode())


def index_row(card: ModelCard, file: str, sha256: str, size: int, default: bool) -> entries.IndexRow:
    """What the index vouches for: the file's name, sha256 and size, and the card's weights_sha256, summary
    and headline (the card's digest was computed from this file's tensors: see ``card.tensors_sha256``)."""
    headline = card.headline
    return entries.IndexRow(
        file=file,
        sha256=sha256,
        size=size,
        weights_sha256=card.weights_sha256,
        default=default,
        summary=card.summary,
        headline=entries.Headline(name=headline.name, value=headline.value) if headline else None,
    )


def readme(out_dir: Path) -> str:
    """``README.md`` of a zoo directory: one row per entry, from the index and the cards."""
    rows = entries.read_index(out_dir).entries
    lines = [
        "# dpzoo's pretrained weights",
        "",
        "Each file holds one set of weights and, in its safetensors header, the model card",
        "(architecture and config, data and split fingerprints, metrics, the command that",
        "trained it). `index.json` records each file's sha256 and size; every load checks them",
        "(see docs/zoo-trust.md).",
        "This file is written by `dpzoo zoo publish`.",
        "",
        "```python",
        "import dpzoo",
        "",
        'model = dpzoo.create_model("NAME", pretrained=True)',
        'print(dpzoo.model_card("NAME").render())',
        "```",
        "",
        "`dpzoo zoo verify` re-checks every file's hash and index row and re-evaluates every card",
        "metric on its recorded split. `dpzoo zoo build NAME` retrains an entry with its card's command",
        "and CPU thread count and compares the tensors' sha256 (`weights_sha256`; the file's own sha256",
        "differs because the card records when it was published): bitwise equal, reproduced up to",
        "kernels (identical predictions, metrics within the card's `rebuild_tolerance`), or differs.",
        "",
        "| name | headline | data | weights licence | data licence | command |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    cards = {name: _row_card(out_dir, name, row) for name, row in rows.items()}
    for name, row in rows.items():
        card = cards[name]
        headline = card.headline
        shown = f"{headline.name} = {headline.value:.4f}" if headline else ""
        default = " (default)" if row.default else ""
        lines.append(
            f"| `{name}`{default} | {shown} | {card.data.name} | {card.licence} | {card.data.licence} | `{card.command}` |"
        )
    notes = [(name, note) for name in rows for note in cards[name].notes]
    if notes:
        lines += ["", "Notes:", ""] + [f"- `{name}`: {note}" for name, note in notes]
    return "\n".join(lines) + "\n"


def _row_card(out_dir: Path, name: str, row: entries.IndexRow) -> ModelCard:
    """The card of an index row's file: read from the zoo directory, or from the cache for an hf:// row."""
    if not row.file.startswith(sources.hub.SCHEME):
        return read_card(out_dir / row.file)
    _, card = sources.fetch(
        row.file, row.sha256, row.size, name, lambda data: card_from_header(parse_header(data, len(data), row.file))
    )
    return card
