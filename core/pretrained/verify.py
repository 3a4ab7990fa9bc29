"""Re-checking pretrained weights: the file as its index row records it, the card, then every metric.

The file is read once and checked as a load checks it (size, sha256, header,
card name and arch, the index row's ``weights_sha256``), its tensors are hashed
again against the card's ``weights_sha256`` (a load trusts the row's record
of it) and built into the architecture (names, shapes, dtypes); then each
field the index row shows (``dpzoo list``: headline, summary) must be the card's.

Metrics are recomputed the way ``dpzoo zoo publish`` computed them: on the
CPU in float32, with ``dpzoo.trainer.evaluate`` over the whole recorded
split in order, after checking that the split's fingerprint is still the one
on the card. A value counts as reproduced when it is within the card's
``tolerance`` (absolute) of the recorded one.

With ``subset=True`` the metrics are recomputed on the first examples of
each split only and compared with the figures recorded for that file in
``subsets.json`` (see ``subsets``); an entry without a record gets the full
re-check. ``record_subsets=True`` records them after a full re-check passes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import DpzooError
from . import entries, loading
from .card import ModelCard
from .data import SplitData, load_data  # noqa: F401 - re-exported: plugins written before dpzoo.pretrained.load_data import them from here

CPU_PRECISION = "32"


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
    metrics: list[tuple[str, float, float]] = field(default_factory=list)  # (name, recorded, now)
    examples: int | None = None  # the leading examples per split the metrics were recomputed on (None: all)

    def fail(self, problem: str) -> None:
        self.status = "failed"
        self.problems.append(problem)


def verify(
    name: str | None = None, evaluate: bool = True, subset: bool = False, record_subsets: bool = False
) -> list[VerifyResult]:
    """Check every pretrained entry (or ``name``): size, sha256, card, tensors, index row, metrics.

    ``subset``: metrics on the first examples only, against ``subsets.json``
    (the full re-check where an entry has no record); ``record_subsets``:
    after a full re-check passes, record the entry's subset figures there.
    """
    chosen = [entries.resolve(name)] if name else entries.catalogue()
    return [verify_entry(w, evaluate, subset, record_subsets) for w in chosen]


def verify_entry(
    weights: entries.Weights, evaluate: bool = True, subset: bool = False, record_subsets: bool = False
) -> VerifyResult:
    result = VerifyResult(weights.name if weights.source == entries.SHIPPED else weights.qualified_name)
    try:
        checked = loading.verified(weights, rehash=True)  # size, sha256, header, card name and arch, tensors' digest
    except DpzooError as exc:
        result.fail(str(exc))
        return result
    card = checked.card
    for problem in index_disagreements(weights, card):
        result.fail(problem)
    try:
        model = loading.load(checked.data, checked.header, card.arch, card.config, {})  # names, shapes, dtypes
    except DpzooError as exc:
        result.fail(str(exc))
        return result
    if evaluate:
        try:
            recorded = _subset_record(weights) if subset and not record_subsets else None
            check_metrics(
                model,
                card,
                result,
                recorded,
                record_to=_zoo_dir(weights) if record_subsets else None,
                sha256=weights.sha256,
            )
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


def _zoo_dir(weights: entries.Weights):
    from pathlib import Path

    return Path(weights.location).parent if weights.source == entries.SHIPPED else None


def _subset_record(weights: entries.Weights):
    from . import subsets

    directory = _zoo_dir(weights)
    return subsets.read(directory).entries.get(weights.sha256) if directory is not None else None


def check_metrics(model, card: ModelCard, result: VerifyResult, subset=None, record_to=None, sha256: str = "") -> None:
    """Recompute each metric of ``card`` on its recorded split and compare.

    With ``subset`` (a ``subsets.Record``) only the first examples of each
    split are evaluated and compared with that record's figures. With
    ``record_to`` (a zoo directory) the subset figures of a passing full
    re-check are recorded there for the file ``sha256``.
    """
    from . import subsets

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
    expected = {m.name: m.value for m in card.metrics}
    data = loaded.data
    if subset is not None:
        if set(subset.metrics) != set(expected) or subset.examples != subsets.EXAMPLES:
            result.fail(
                f"the subset record has {sorted(subset.metrics)} on {subset.examples} examples; "
                f"the card has {sorted(expected)}, the check uses {subsets.EXAMPLES}: record it again"
            )
            return
        expected, data, result.examples = subset.metrics, subsets.first_examples(data), subsets.EXAMPLES
    for split in splits:
        values = evaluate_on_cpu(model, card.run, data, split, card.evaluation.batch_size)
        for m in (m for m in card.metrics if m.split == split):
            now = values.get(m.name)
            if now is None:
                result.fail(f"{m.name} was not computed on re-evaluation (got {sorted(values)})")
                continue
            result.metrics.append((m.name, expected[m.name], now))
            if abs(now - expected[m.name]) > card.tolerance:
                where = f"the first {subsets.EXAMPLES} examples: recorded" if subset is not None else "card"
                result.fail(f"{m.name}: {where} {expected[m.name]:.8f}, now {now:.8f} (tolerance {card.tolerance:g})")
    if record_to is not None and result.status == "ok":
        values = subset_figures(model, card.run, loaded.data, splits, card.evaluation.batch_size)
        subsets.record(record_to, sha256, card.name, {name: values[name] for name in expected})


def subset_figures(model, run: dict[str, Any], data, splits: list[str], batch_size: int) -> dict[str, float]:
    """``{"split/metric": value}`` over the first ``subsets.EXAMPLES`` examples of each split, as the card's metrics are computed."""
    from . import subsets

    cut = subsets.first_examples(data)
    values: dict[str, float] = {}
    for split in splits:
        values.update(evaluate_on_cpu(model, run, cut, split, batch_size))
    return values
