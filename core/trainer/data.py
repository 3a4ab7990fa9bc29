"""In-memory splits, batched by index on the device.

Every split of a ``datasets.DatasetDict`` is read once into tensors on the
training device; a batch is then one gather per column, with no per-example
collate. The order of each epoch comes from its own generator, seeded by
(seed, epoch), so a resumed run sees exactly the batches it would have seen.

A dataset's ``augmentation()`` (random shifts of images, say) runs on each
training batch after ``transform``, with a generator that ``augment_generator``
seeds from (seed, step): the same step of the same run draws the same changes,
whether or not the run was resumed in between; evaluation batches are never
augmented.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import Tensor

from .sequences import SequenceSplits

Columns = dict[str, Tensor]
Augment = Callable[[Columns, torch.Generator], Columns]


def augment_generator(seed: int, step: int, device: torch.device) -> torch.Generator:
    """A generator on ``device`` for the augmentation of training step ``step`` of a run seeded ``seed``."""
    # a mix of its own, so that step s never replays the stream epoch_order draws for epoch s
    return torch.Generator(device=device).manual_seed((seed * 2_654_435_761 + step * 40_503 + 0x5EED) % 2**63)


def split_to_tensors(split: Any, columns: tuple[str, ...], device: torch.device) -> Columns:
    """The named columns of one ``datasets.Dataset`` split as tensors on ``device``, in their stored dtypes."""
    from ..tables import to_arrays  # datasets and pyarrow: only for splits that come from them

    return {name: torch.from_numpy(array).to(device) for name, array in to_arrays(split, columns).items()}


class InMemorySplits:
    """Tensors per split plus the dataset's on-device ``transform`` and training ``augment``."""

    def __init__(
        self,
        splits: dict[str, Columns],
        transform: Callable[[Columns], Columns] | None = None,
        augment: Augment | None = None,
    ):
        self.splits = splits
        self.transform = transform
        self.augment = augment

    @classmethod
    def from_dataset_dict(
        cls,
        dataset_dict: Any,
        columns: tuple[str, ...],
        device: torch.device,
        transform=None,
        sequence=None,
        augment=None,
    ):
        """The splits as tensors; with a ``sequence`` spec (``Dataset.sequence()``), as ``SequenceSplits`` (not augmented)."""
        splits = {name: split_to_tensors(split, columns, device) for name, split in dataset_dict.items()}
        return cls(splits, transform, augment) if sequence is None else SequenceSplits(splits, sequence, transform)

    def __contains__(self, split: str) -> bool:
        return split in self.splits

    def size(self, split: str) -> int:
        return len(next(iter(self.splits[split].values())))

    def steps_per_epoch(self, batch_size: int, drop_last: bool = False, world_size: int = 1) -> int:
        """Training batches per epoch (``epoch_order``'s length)."""
        n = self.size("train")
        if world_size > 1:
            return n // (batch_size * world_size)
        return n // batch_size if drop_last else -(-n // batch_size)

    def epoch_order(
        self, seed: int, epoch: int, batch_size: int, drop_last: bool, rank: int = 0, world_size: int = 1
    ) -> list[Tensor]:
        """The index batches of one training epoch, the same for a given (seed, epoch).

        With ``world_size`` processes each global batch of ``world_size * batch_size``
        examples is cut into equal shares, and process ``rank`` takes its own; a
        last global batch too small to share equally is dropped.
        """
        generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
        n = self.size("train")
        device = next(iter(self.splits["train"].values())).device
        order = torch.randperm(n, generator=generator).to(device)
        if world_size > 1:
            whole = order.split(batch_size * world_size)
            return [b[rank * batch_size : (rank + 1) * batch_size] for b in whole if len(b) == batch_size * world_size]
        batches = list(order.split(batch_size))
        if drop_last and batches and len(batches[-1]) < batch_size:
            batches.pop()
        return batches

    def gather(self, split: str, index: Tensor, seed_step: tuple[int, int] | None = None) -> Columns:
        """The examples at ``index``; with ``seed_step`` (a training batch), augmented with (seed, step)'s draws."""
        batch = {name: column[index] for name, column in self.splits[split].items()}
        if self.transform is not None:
            batch = self.transform(batch)
        if self.augment is not None and seed_step is not None:
            batch = self.augment(batch, augment_generator(*seed_step, index.device))
        return batch

    def batches(self, split: str, batch_size: int) -> Iterator[Columns]:
        """The split in order, ``batch_size`` examples at a time (for evaluation)."""
        n = self.size(split)
        for start in range(0, n, batch_size):
            batch = {name: column[start : start + batch_size] for name, column in self.splits[split].items()}
            yield self.transform(batch) if self.transform is not None else batch
