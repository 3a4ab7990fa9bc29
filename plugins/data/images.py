"""What the image classification sets share: 10 classes, x as [N, C, H, W], y as int64.

Pixels are stored compactly (MNIST as uint8); ``transform`` turns each batch
into floats in [0, 1] on the device and, when ``normalise`` is on, into
(x - mean) / std with the training set's pixel mean and standard deviation.

``augmentation`` returns the random shifts, turns and zooms of the config's
``augment`` section (``plugins/data/augment.py``), which the trainer applies to
training batches after ``transform``; ``None`` when all are off.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import datasets
import numpy as np
import torch
from torch import Tensor

import dpzoo
from dpzoo.tables import to_dataset

from .augment import AugmentConfig, augment_images

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

    def augmentation(self) -> Callable[[dict[str, Tensor], torch.Generator], dict[str, Tensor]] | None:
        """The config's ``augment`` section as a function of (batch, generator); ``None`` when it is off."""
        config: AugmentConfig | None = getattr(self.config, "augment", None)
        if config is None or not config.active:
            return None
        side = min(self.input_shape[1:])
        if config.shift >= side:
            raise dpzoo.ConfigError(
                f"data.augment.shift={config.shift} would move a {side}x{side} image out of view; "
                f"use a shift below {side} (1 or 2 pixels is usual)"
            )
        fill = -self.mean / self.std if self.config.normalise else 0.0  # the background after transform

        def augment(batch: dict[str, Tensor], generator: torch.Generator) -> dict[str, Tensor]:
            return {**batch, "x": augment_images(batch["x"], config, generator, fill)}

        return augment

    def features(self, pixel_dtype: str) -> datasets.Features:
        return datasets.Features(
            {
                "x": datasets.Array3D(self.input_shape, pixel_dtype),
                "y": datasets.ClassLabel(names=[str(k) for k in range(NUM_CLASSES)]),
            }
        )

    def splits(
        self, arrays: dict[str, tuple[np.ndarray, np.ndarray]], pixel_dtype: str, **info
    ) -> datasets.DatasetDict:
        """A ``DatasetDict`` from ``{split: (x, y)}``; ``info`` goes to each split's ``DatasetInfo``."""
        features = self.features(pixel_dtype)
        return datasets.DatasetDict(
            {name: to_dataset({"x": x, "y": y.astype(np.int64)}, features, **info) for name, (x, y) in arrays.items()}
        )
