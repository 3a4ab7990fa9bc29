"""Two moons: two interleaving half circles in the plane, one class each.

Points come from scikit-learn's ``make_moons`` with Gaussian noise; a fixed
seed fixes the points and the train/validation/test split, so every run sees
the same data.
"""

from __future__ import annotations

from typing import Any

import datasets
import numpy as np
from pydantic import Field
from sklearn.datasets import make_moons

import dpzoo


class TwoMoonsConfig(dpzoo.Config):
    num_examples: int = Field(5000, ge=10, description="Points in all three splits together")
    noise: float = Field(0.2, ge=0.0, description="Standard deviation of the Gaussian noise added to each point")
    validation_fraction: float = Field(0.2, gt=0.0, lt=0.5, description="Share of the points held out for validation")
    test_fraction: float = Field(0.2, gt=0.0, lt=0.5, description="Share of the points held out for testing")
    seed: int = Field(0, description="Seed of the points and of the split")


class TwoMoons(dpzoo.Dataset):
    """Columns ``x`` (float32, 2 per point) and ``y`` (int64 class, 0 or 1)."""

    Config = TwoMoonsConfig
    columns = ("x", "y")
    default_loss = "cross_entropy"
    default_metrics = ("accuracy",)

    def load(self) -> datasets.DatasetDict:
        c = self.config
        x, y = make_moons(n_samples=c.num_examples, noise=c.noise, random_state=c.seed)
        order = np.random.default_rng(c.seed).permutation(len(x))
        n_validation = round(c.validation_fraction * len(x))
        n_test = round(c.test_fraction * len(x))
        parts = {
            "train": order[n_test + n_validation :],
            "validation": order[n_test : n_test + n_validation],
            "test": order[:n_test],
        }
        features = datasets.Features(
            {"x": datasets.Sequence(datasets.Value("float32"), length=2), "y": datasets.Value("int64")}
        )
        return datasets.DatasetDict(
            {
                split: datasets.Dataset.from_dict(
                    {"x": x[rows].astype(np.float32), "y": y[rows].astype(np.int64)}, features=features
                )
                for split, rows in parts.items()
            }
        )

    def info(self) -> dict[str, Any]:
        return {"input_shape": [2], "num_classes": 2}
