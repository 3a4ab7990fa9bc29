"""DeepSets' digit sum (Zaheer et al., 2017; chapter 16): the sum of a set of digits.

Each example is a set of 1..``max_train_size`` digits and its target is their
sum. Digits are images (the 8x8 digits or MNIST; each set draws its images
from the same split of the source, so test images are never seen in
training) or plain integers 0..9 (``source: integers``). The test split holds
only sets longer than any training set (``test_sizes``, inclusive), which is
what shows whether a model learnt a sum rather than a fit to short sets.

Columns: ``x`` the elements, padded to the split's longest set ([N, L, 1, H, W]
images in the source's dtype, or [N, L] int64 integers), ``mask`` [N, L]
(1 for an element, 0 for padding) and ``y`` the sum (float32). Every draw
comes from numpy's default_rng(seed).
"""

from __future__ import annotations

from typing import Literal

import datasets
import numpy as np
from pydantic import Field, model_validator
from torch import Tensor

import dpzoo

from .pixelsets import SPLITS, images_of

DIGITS = 10


class DigitSumConfig(dpzoo.Config):
    source: Literal["digits", "mnist", "integers"] = Field("digits", description="Elements: 8x8 digit images, MNIST images, or integers 0..9")
    max_train_size: int = Field(10, ge=1, description="Training and validation sets have 1 to this many elements")
    test_sizes: list[int] = Field([11, 50], description="Smallest and largest size of a test set (longer than training's)")
    train_sets: int = Field(10_000, ge=1, description="Number of training sets")
    validation_sets: int = Field(1_000, ge=1, description="Number of validation sets")
    test_sets: int = Field(1_000, ge=1, description="Number of test sets")
    seed: int = Field(0, description="Seed of every draw (set sizes and elements)")

    @model_validator(mode="after")
    def _sizes(self):
        if len(self.test_sizes) != 2 or not 1 <= self.test_sizes[0] <= self.test_sizes[1]:
            raise ValueError(f"test_sizes must be [smallest, largest] with 1 <= smallest <= largest, got {self.test_sizes}")
        return self


class DigitSum(dpzoo.Dataset):
    """Sets of digits with their sum ``y``; the test sets are longer than the training sets."""

    Config = DigitSumConfig
    columns = ("x", "mask", "y")
    default_loss = "mae"
    default_metrics = ("mae", "rounded_accuracy")

    def __init__(self, config: DigitSumConfig | None = None):
        super().__init__(config)
        self._element_shape: list[int] | None = None

    def load(self) -> datasets.DatasetDict:
        from dpzoo.tables import to_dataset

        c = self.config
        rng = np.random.default_rng(c.seed)
        sources = None if c.source == "integers" else images_of(c.source)
        sizes = {"train": (1, c.max_train_size), "validation": (1, c.max_train_size), "test": tuple(c.test_sizes)}
        counts = {"train": c.train_sets, "validation": c.validation_sets, "test": c.test_sets}
        splits = {}
        for split in SPLITS:
            low, high = sizes[split]
            n = rng.integers(low, high + 1, size=counts[split])
            mask = (np.arange(high) < n[:, None]).astype(np.float32)
            if sources is None:
                digits = rng.integers(0, DIGITS, size=(len(n), high))
                x, x_feature = digits, datasets.Sequence(datasets.Value("int64"), length=high)
            else:
                images, labels, _ = sources[split]
                pick = rng.integers(0, len(images), size=(len(n), high))
                digits = labels[pick]
                x = images[pick][:, :, None]  # [N, L, 1, H, W]
                x_feature = datasets.Array4D(x.shape[1:], str(x.dtype))
                self._element_shape = [1, *images.shape[1:]]
            y = (digits * mask).sum(1).astype(np.float32)
            x = x * mask.reshape(mask.shape + (1,) * (x.ndim - 2)).astype(x.dtype)  # padding holds zeros
            features = datasets.Features(
                {"x": x_feature, "mask": datasets.Sequence(datasets.Value("float32"), length=high), "y": datasets.Value("float32")}
            )
            splits[split] = to_dataset(
                {"x": x, "mask": mask, "y": y},
                features,
                description=f"sets of {low}..{high} {c.source} digits and their sum, numpy default_rng({c.seed})",
                license="CC BY 4.0" if c.source != "mnist" else "CC BY-SA 3.0",
            )
        return datasets.DatasetDict(splits)

    def info(self) -> dict:
        if self.config.source == "integers":
            return {"vocabulary": DIGITS}
        if self._element_shape is None:
            self._element_shape = [1, 28, 28] if self.config.source == "mnist" else [1, 8, 8]
        return {"element_shape": self._element_shape}

    def transform(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        x = batch["x"]
        if self.config.source == "mnist":
            return {**batch, "x": x.float() / 255.0}
        return batch
