"""Re-checking pretrained weights: the file's hashes, then every metric on its card.

Metrics are recomputed the way ``dpzoo zoo publish`` computed them: on the
CPU in float32, with ``dpzoo.trainer.evaluate`` over the whole recorded
split in order, after checking that the split's fingerprint is still the one
on the card. A value counts as reproduced when it is within the card's
``tolerance`` (absolute) of the recorded one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import hub
from .card import ModelCard
from .errors import IntegrityError

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

    from .components import create
    from .fingerprint import fingerprint
    from .trainer import InMemorySplits

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
        {s: fingerprint(columns) for s, columns in data.splits.items()},
        {s: dataset_dict[s].num_rows for s in dataset_dict},
        licence,
    )


def evaluate_on_cpu(model, run: dict[str, Any], data, split: str, batch_size: int) -> dict[str, float]:
    """``{"split/name": value}`` for the run's loss (and its terms) and metrics."""
    from .components import create
    from .trainer import evaluate

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
    """Check every pretrained entry (or ``name``): full sha256, size, card, tensors, metrics."""
    from . import pretrained

    hub.forget_hashes()  # hash every file in full
    entries = [pretrained.resolve(name)] if name else pretrained.catalogue()
    return [verify_entry(w, evaluate) for w in entries]


def verify_entry(weights, evaluate: bool = True) -> VerifyResult:
    from . import pretrained
    from .errors import DpzooError
    from .safetensors_file import tensors_sha256

    result = VerifyResult(weights.name if weights.source == pretrained.SHIPPED else weights.qualified_name)
    try:
        header, card = pretrained._verified(weights)
        actual = tensors_sha256(header.path, header)
        if actual != card.weights_sha256:
            result.fail(f"tensors sha256 {actual} differs from the card's weights_sha256 {card.weights_sha256}")
            return result
    except DpzooError as exc:
        result.fail(str(exc))
        return result
    if evaluate:
        try:
            model = pretrained._load(header, card.arch, card.config, {})
            check_metrics(model, card, result)
        except FileNotFoundError as exc:  # the data is not on this machine
            result.status, result.problems = "skipped", [f"metrics not re-checked: {exc}"]
        except DpzooError as exc:
            result.fail(str(exc))
    return result


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
