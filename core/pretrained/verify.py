"""Re-checking pretrained weights: the file as its index row records it, the card, then every metric.

The file is read once and checked as every load checks it (size, sha256,
header, card name and arch, ``weights_sha256``); then each field the index
row shows (``dpzoo list``: headline, summary) must be the card's.

Metrics are recomputed the way ``dpzoo zoo publish`` computed them: on the
CPU in float32, with ``dpzoo.trainer.evaluate`` over the whole recorded
split in order, after checking that the split's fingerprint is still the one
on the card. A value counts as reproduced when it is within the card's
``tolerance`` (absolute) of the recorded one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import DpzooError, IntegrityError
from . import entries, loading
from .card import ModelCard

CPU_PRECISION = "32"


@dataclass
class SplitData:
    """Evaluation splits on the CPU plus what the card records about the data."""

    data: Any  # InMemorySplits
    fingerprints: dict[str, str]
    examples: dict[str, int]
    licence: str


def load_data(section: dict[str, Any], splits: list[str]) -> SplitData:
    """The dataset of a resolved ``data`` section; ``splits`` are read into CPU tensors."""
    import torch

    from ..components import create
    from ..fingerprint import fingerprint
    from ..trainer import InMemorySplits

    options = {k: v for k, v in section.items() if k != "name"}
    dataset = create("dataset", section["name"], **options)
    dataset_dict = dataset.load()
    missing = [s for s in splits if s not in dataset_dict]
    if missing:
        raise IntegrityError(f"dataset {section['name']!r} has no split(s) {missing}; it has {list(dataset_dict)}")
    data = InMemorySplits.from_dataset_dict(
        {s: dataset_dict[s] for s in splits}, tuple(dataset.columns), torch.device("cpu"), dataset.transform,
        sequence=dataset.sequence(),
    )
    licence = next((str(dataset_dict[s].info.license or "") for s in dataset_dict), "")
    return SplitData(
        data,
        # every column the model is fed, as core/run.py records them (a set's mask too)
        {s: fingerprint(columns, tuple(columns)) for s, columns in data.splits.items()},
        {s: dataset_dict[s].num_rows for s in dataset_dict},
        licence,
    )


def evaluate_on_cpu(model, run: dict[str, Any], data, split: str, batch_size: int) -> dict[str, float]:
    """``{"split/name": value}`` for the run's loss (and its terms) and metrics."""
    from ..components import create
    from ..trainer import evaluate

    loss_section = run.get("loss")
    loss = None
    if loss_section:
        loss = create("loss", loss_section["name"], **{k: v for k, v in loss_section.items() if k != "name"})
    metrics = {name: create("metric", name) for name in run.get("metrics") or []}
    return evaluate(model.to("cpu"), data, split, loss=loss, metrics=metrics, batch_size=batch_size)


@dataclass
class VerifyResult:
    name: str
    status: str = "ok"  # ok | failed | skipped
    problems: list[str] = field(default_factory=list)
    metrics: list[tuple[str, float, float]] = field(default_factory=list)  # (name, card, now)

    def fail(self, problem: str) -> None:
        self.status = "failed"
        self.problems.append(problem)


def verify(name: str | None = None, evaluate: bool = True) -> list[VerifyResult]:
    """Check every pretrained entry (or ``name``): size, sha256, card, tensors, index row, metrics."""
    chosen = [entries.resolve(name)] if name else entries.catalogue()
    return [verify_entry(w, evaluate) for w in chosen]


def verify_entry(weights: entries.Weights, evaluate: bool = True) -> VerifyResult:
    result = VerifyResult(weights.name if weights.source == entries.SHIPPED else weights.qualified_name)
    try:
        checked = loading.verified(weights)  # size, sha256, header, card name and arch, weights_sha256
    except DpzooError as exc:
        result.fail(str(exc))
        return result
    card = checked.card
    for problem in index_disagreements(weights, card):
        result.fail(problem)
    if evaluate:
        try:
            model = loading.load(checked.data, checked.header, card.arch, card.config, {})
            check_metrics(model, card, result)
        except FileNotFoundError as exc:  # the data is not on this machine
            result.status, result.problems = "skipped", [f"metrics not re-checked: {exc}"]
        except DpzooError as exc:
            result.fail(str(exc))
    return result


def index_disagreements(weights: entries.Weights, card: ModelCard) -> list[str]:
    """Where the index row (or a plugin's registration) says other than the card: headline, summary.

    Size and sha256 were checked against the bytes by the load. A
    registration may leave summary and headline out; the index may not.
    """
    shipped = weights.source == entries.SHIPPED
    problems = []
    headline = card.headline
    if shipped or weights.headline is not None:
        shown = (weights.headline.name, weights.headline.value) if weights.headline else None
        expected = (headline.name, headline.value) if headline else None
        if shown != expected:
            problems.append(f"the index's headline {shown} is not the card's {expected} (what `dpzoo list` shows)")
    if (shipped or weights.summary) and weights.summary != card.summary:
        problems.append(f"the index's summary {weights.summary!r} is not the card's {card.summary!r}")
    return problems


def check_metrics(model, card: ModelCard, result: VerifyResult) -> None:
    """Recompute each metric of ``card`` on its recorded split and compare."""
    splits = sorted({m.split for m in card.metrics})
    loaded = load_data(card.data.config, splits)
    for split in splits:
        recorded = card.data.fingerprints.get(split)
        if loaded.fingerprints[split] != recorded:
            result.fail(
                f"split {split!r} of {card.data.name!r} has fingerprint {loaded.fingerprints[split]}, "
                f"the card recorded {recorded}: the data changed, so the metrics cannot be compared"
            )
            return
    for split in splits:
        values = evaluate_on_cpu(model, card.run, loaded.data, split, card.evaluation.batch_size)
        for m in (m for m in card.metrics if m.split == split):
            now = values.get(m.name)
            if now is None:
                result.fail(f"{m.name} was not computed on re-evaluation (got {sorted(values)})")
                continue
            result.metrics.append((m.name, m.value, now))
            if abs(now - m.value) > card.tolerance:
                result.fail(f"{m.name}: card {m.value:.8f}, now {now:.8f} (tolerance {card.tolerance:g})")
