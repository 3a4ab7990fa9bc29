"""A quick re-check of a card: its metrics on a fixed, documented subset of their splits.

Re-evaluating every card on its whole split takes minutes for the zoo (a
VAE's ELBO over 10,000 MNIST images, a generator's Fréchet distance, a
character model over a whole stream), too slow for every test run. The
quick check evaluates the same weights with the same code (the card's run:
its loss, metrics and evaluation batch size, on the CPU in float32) on the
**first** ``EXAMPLES`` examples of each split a card metric is computed on,
in order (for a sequence dataset, the first ``EXAMPLES`` windows of the
dataset's block length, plus the one position that the last target needs).

A subset's figures are not the card's (which are over the whole split), so
they are recorded once, computed with that same code, in ``subsets.json``
beside ``index.json``: by ``dpzoo zoo publish`` right after it computes the
card's metrics, or for an entry published before, by ``dpzoo zoo verify
--record-subsets``, which records them only after the full re-check passed.
Records are keyed by the file's sha256, so a record can only describe the
exact bytes it was computed from; a republished entry has none until it is
recorded again, and then the full re-check is made instead. Loading never
reads this file; ``dpzoo zoo verify`` (without ``--subset``) is the full check.
"""

from __future__ import annotations

import copy
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import IntegrityError
from ..files import atomic_write_bytes

FILE = "subsets.json"
EXAMPLES = 256  # rows (or windows) at the start of each split


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="arch.tag the file was published as")
    examples: int = Field(description="How many leading examples (or windows) of each split were evaluated")
    metrics: dict[str, float] = Field(description="split/metric -> its value on those examples")


class Subsets(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: int = Field(1, description="File format version")
    entries: dict[str, Record] = Field({}, description="file sha256 -> the subset figures of that file")


def read(directory: Path) -> Subsets:
    """``directory/subsets.json``, validated (empty when there is none)."""
    path = Path(directory) / FILE
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        return Subsets()
    try:
        return Subsets.model_validate_json(text)
    except ValidationError as exc:
        raise IntegrityError(
            f"{path} is not a valid subsets file ({exc.errors()[0]['msg']}); record it again"
        ) from None


def record(directory: Path, sha256: str, name: str, metrics: dict[str, float]) -> None:
    """Keep ``metrics`` (from ``verify.subset_figures``) as the subset figures of the file whose sha256 is ``sha256``.

    Records of files the directory's index no longer lists (an entry
    republished since) are dropped.
    """
    from .entries import read_index

    subsets = read(directory)
    live = {row.sha256 for row in read_index(Path(directory)).entries.values()} | {sha256}
    subsets.entries = {digest: kept for digest, kept in subsets.entries.items() if digest in live}
    subsets.entries[sha256] = Record(name=name, examples=EXAMPLES, metrics=metrics)
    subsets.entries = dict(sorted(subsets.entries.items(), key=lambda item: (item[1].name, item[0])))
    atomic_write_bytes(Path(directory) / FILE, (subsets.model_dump_json(indent=2) + "\n").encode())


def first_examples(data, n: int = EXAMPLES):
    """The same splits object cut to the first ``n`` examples of each split (``n`` windows of a stream)."""
    cut = copy.copy(data)
    spec = getattr(data, "spec", None)
    length = n if spec is None else n * spec.block + 1
    cut.splits = {
        split: {name: column[:length] for name, column in columns.items()} for split, columns in data.splits.items()
    }
    return cut
