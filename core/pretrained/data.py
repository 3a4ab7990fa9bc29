"""The data a card's metrics are computed on, for plugins and the zoo alike: ``dpzoo.pretrained.load_data``.

``load_data(section, splits)`` builds the dataset that a resolved ``data``
section names (as a card's ``data.config`` or a run's ``config.json``
records it), reads the chosen splits into CPU tensors the trainer's
``evaluate`` takes, and fingerprints each split the way a run records it, so
a command can check that it evaluates the very examples a card was computed
on (``loaded.fingerprints[split] == card.data.fingerprints[split]``)::

    from dpzoo.pretrained import load_data

    loaded = load_data(card.data.config, ["test"])
    values = dpzoo.trainer.evaluate(model, loaded.data, "test", metrics=...)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import IntegrityError


@dataclass
class SplitData:
    """Evaluation splits on the CPU plus what a card records about the data."""

    data: Any  # InMemorySplits
    fingerprints: dict[str, str]
    examples: dict[str, int]
    licence: str


def load_data(section: dict[str, Any], splits: list[str]) -> SplitData:
    """The dataset of a resolved ``data`` section (its ``name`` and options); ``splits`` are read into CPU tensors.

    A split the dataset lacks is an ``IntegrityError`` naming the ones it has.
    """
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
        {s: dataset_dict[s] for s in splits},
        tuple(dataset.columns),
        torch.device("cpu"),
        dataset.transform,
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
