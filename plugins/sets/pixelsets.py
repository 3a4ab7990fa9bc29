"""Digits as sets of points: the pixel-set task of DSPN's MNIST experiment (chapter 16).

Each image becomes the set of its pixels brighter than ``threshold`` (of full
intensity), each pixel an (x, y) point with x = column / (W - 1) and
y = 1 - row / (H - 1) in [0, 1] (y up, as on a page). Sets differ in size, so
each is padded to ``max_elements`` slots: ``x`` [N, max_elements, 2] with
zeros in the padding and ``mask`` [N, max_elements] with 1 for a point, 0 for
padding; ``y`` is the digit. The points of each set are stored in a random
order (seeded), so no model can rely on raster order.

With MNIST and the default threshold 0.5 the largest set has 312 points
(the DSPN paper pads its MNIST sets to 342). The 8x8 digits give sets of at
most 64 points, for fast tests.
Splits are the source's (MNIST 55000/5000/10000, digits 1257/180/360), each
optionally cut to its first examples (``*_examples``) so that a model with
an inner loop evaluates in seconds on a CPU.
"""

from __future__ import annotations

from typing import Literal

import datasets
import numpy as np
from pydantic import Field

import dpzoo

from .masks import SetError

SPLITS = ("train", "validation", "test")


class PixelSetsConfig(dpzoo.Config):
    source: Literal["digits", "mnist"] = Field(
        "digits", description="Images to read: scikit-learn's 8x8 digits or MNIST"
    )
    threshold: float = Field(
        0.5, ge=0.0, lt=1.0, description="A pixel is a point when its intensity exceeds this fraction of full"
    )
    max_elements: int | None = Field(
        None, ge=1, description="Slots per set; unset: the largest set of the source (312 for MNIST at 0.5)"
    )
    train_examples: int | None = Field(None, ge=1, description="Keep the first this many training images; unset: all")
    validation_examples: int | None = Field(
        None, ge=1, description="Keep the first this many validation images; unset: all"
    )
    test_examples: int | None = Field(None, ge=1, description="Keep the first this many test images; unset: all")
    seed: int = Field(0, description="Seed of the order in which each set's points are stored")


def images_of(source: str) -> dict[str, tuple[np.ndarray, np.ndarray, float]]:
    """{split: (images [N, H, W], labels [N], full intensity)} of a registered image data set."""
    from dpzoo.tables import to_arrays

    dataset_dict = dpzoo.create("dataset", source).load()
    out = {}
    for split in SPLITS:
        arrays = to_arrays(dataset_dict[split], ["x", "y"])
        x = arrays["x"][:, 0]
        out[split] = (x, arrays["y"], 255.0 if x.dtype == np.uint8 else 1.0)
    return out


def point_sets(images: np.ndarray, level: float, slots: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(points [N, slots, 2], mask [N, slots]) of the pixels above ``level``, each set in a random order."""
    n, height, width = images.shape
    example, row, column = np.nonzero(images > level)
    counts = np.bincount(example, minlength=n)
    if counts.max(initial=0) > slots:
        raise SetError(
            f"an image has {counts.max()} points but max_elements is {slots}: raise max_elements or the threshold"
        )
    order = np.lexsort((rng.random(len(example)), example))  # shuffle within each example, examples in order
    example, row, column = example[order], row[order], column[order]
    slot = np.arange(len(example)) - np.repeat(np.cumsum(counts) - counts, counts)
    points = np.zeros((n, slots, 2), dtype=np.float32)
    mask = np.zeros((n, slots), dtype=np.float32)
    points[example, slot, 0] = column / (width - 1)
    points[example, slot, 1] = 1 - row / (height - 1)
    mask[example, slot] = 1.0
    return points, mask


class PixelSets(dpzoo.Dataset):
    """Point sets [N, max_elements, 2] with ``mask`` and the digit ``y``."""

    Config = PixelSetsConfig
    columns = ("x", "mask", "y")
    default_loss = "chamfer"
    default_metrics = ("chamfer", "hungarian")

    def __init__(self, config: PixelSetsConfig | None = None):
        super().__init__(config)
        self._slots: int | None = None

    def load(self) -> datasets.DatasetDict:
        from dpzoo.tables import to_dataset

        c = self.config
        sources = images_of(c.source)
        limits = {"train": c.train_examples, "validation": c.validation_examples, "test": c.test_examples}
        # the capacity is the largest set of the whole source, so it does not depend on the cuts
        largest = max(
            int(((x > c.threshold * full).reshape(len(x), -1)).sum(1).max()) for x, _, full in sources.values()
        )
        slots = c.max_elements if c.max_elements is not None else largest
        self._slots = slots
        rng = np.random.default_rng(c.seed)
        features = datasets.Features(
            {
                "x": datasets.Array2D((slots, 2), "float32"),
                "mask": datasets.Sequence(datasets.Value("float32"), length=slots),
                "y": datasets.ClassLabel(names=[str(k) for k in range(10)]),
            }
        )
        splits = {}
        for split in SPLITS:
            images, labels, full = sources[split]
            images, labels = images[: limits[split]], labels[: limits[split]]
            points, mask = point_sets(images, c.threshold * full, slots, rng)
            splits[split] = to_dataset(
                {"x": points, "mask": mask, "y": labels.astype(np.int64)},
                features,
                description=f"{c.source} as sets of (x, y) pixel positions above {c.threshold} of full intensity, "
                f"padded to {slots} slots with a mask; points in a random order (numpy default_rng({c.seed}))",
                license="CC BY 4.0" if c.source == "digits" else "CC BY-SA 3.0",
            )
        return datasets.DatasetDict(splits)

    def info(self) -> dict:
        if self._slots is None:
            self.load()
        return {"max_elements": self._slots, "element_dim": 2}
