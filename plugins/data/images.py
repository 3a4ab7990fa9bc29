"""What the image classification sets share: 10 classes, x as [N, C, H, W], y as int64.

Pixels are stored compactly (MNIST as uint8); ``transform`` turns each batch
into floats in [0, 1] on the device and, when ``normalise`` is on, into
(x - mean) / std with the training set's pixel mean and standard deviation.
"""

from __future__ import annotations

from typing import ClassVar

import datasets
import numpy as np
from torch import Tensor

import dpzoo

from dpzoo.tables import to_dataset

NUM_CLASSES = 10


class ImageClassification(dpzoo.Dataset):
    """Base for digit sets: subclasses set the shape, the pixel scale and the training statistics."""

    columns = ("x", "y")
    default_loss = "cross_entropy"
    default_metrics = ("accuracy",)
    input_shape: ClassVar[tuple[int, int, int]]
    pixel_max: ClassVar[float] = 255.0  # the stored value of a full-intensity integer pixel
    mean: ClassVar[float]
    std: ClassVar[float]

    def info(self) -> dict:
        return {"input_shape": list(self.input_shape), "num_classes": NUM_CLASSES}

    def transform(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        x = batch["x"]
        if x.is_floating_point() and not self.config.normalise:
            return batch  # already floats in [0, 1] (digits): nothing to do on each batch
        if not x.is_floating_point():
            x = x.float() / self.pixel_max
        if self.config.normalise:
            x = (x - self.mean) / self.std
        return {**batch, "x": x}

    def features(self, pixel_dtype: str) -> datasets.Features:
        return datasets.Features(
            {
                "x": datasets.Array3D(self.input_shape, pixel_dtype),
                "y": datasets.ClassLabel(names=[str(k) for k in range(NUM_CLASSES)]),
            }
        )

    def splits(self, arrays: dict[str, tuple[np.ndarray, np.ndarray]], pixel_dtype: str, **info) -> datasets.DatasetDict:
        """A ``DatasetDict`` from ``{split: (x, y)}``; ``info`` goes to each split's ``DatasetInfo``."""
        features = self.features(pixel_dtype)
        return datasets.DatasetDict(
            {
                name: to_dataset({"x": x, "y": y.astype(np.int64)}, features, **info)
                for name, (x, y) in arrays.items()
            }
        )
