"""scikit-learn's 8x8 handwritten digits (1,797 images, 10 classes).

The book's small classification examples fit on a laptop CPU in seconds with
this set. Each image is 8x8 pixels of integer intensity 0..16, served as
x = pixel / 16, float32 in [0, 1], shape [1, 8, 8]; y is the digit, int64.

The splits are fixed so that every model in the zoo is scored on the same
images::

    perm = numpy.random.RandomState(0).permutation(1797)
    train      = perm[:1257]       1,257 images
    validation = perm[1257:1437]     180 images
    test       = perm[1437:]         360 images

For scale: an RBF support vector machine, SVC(gamma=0.001) on the raw 0..16
pixels (gamma=0.256 on x), trained on this train split scores 0.992 on this
test split (357/360). scikit-learn's own example, which trains on the first
898 images and tests on the other 899, scores 0.969 (871/899).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydantic import Field

import dpzoo

from .augment import AugmentConfig
from .images import ImageClassification

SIZE = 1797
TRAIN, VALIDATION = 1257, 180  # the test split is the remaining 360
SEED = 0
PIXEL_MAX = 16.0  # intensities are integers 0..16


def split_indices() -> dict[str, np.ndarray]:
    """The example indices of each split, into scikit-learn's order of the 1,797 images."""
    perm = np.random.RandomState(SEED).permutation(SIZE)
    return {"train": perm[:TRAIN], "validation": perm[TRAIN : TRAIN + VALIDATION], "test": perm[TRAIN + VALIDATION :]}


class DigitsConfig(dpzoo.Config):
    normalise: bool = Field(False, description="Standardise pixels with the train split's mean and std (in transform)")
    augment: AugmentConfig = Field(
        default_factory=AugmentConfig,
        description="Random shifts, turns, zooms and noise of training batches (off: all 0)",
    )


class Digits(ImageClassification):
    """8x8 digits as float32 [N, 1, 8, 8] in [0, 1], with fixed 1257/180/360 splits."""

    Config = DigitsConfig
    input_shape = (1, 8, 8)
    mean = 0.3056  # of all train-split pixels of x
    std = 0.3757

    def load(self):
        images, y = _read_digits()
        x = (images / PIXEL_MAX).astype(np.float32)[:, None]
        return self.splits(
            {name: (x[index], y[index]) for name, index in split_indices().items()},
            "float32",
            description="scikit-learn's 8x8 digits, x = pixel/16; splits from "
            "numpy.random.RandomState(0).permutation(1797): train [:1257], validation [1257:1437], test [1437:]",
            homepage="https://archive.ics.uci.edu/dataset/80",
            license="CC BY 4.0",
        )


def _read_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled digits file as ``load_digits`` reads it: images [1797, 8, 8] (float64) and labels.

    Read straight from the installed package's data folder: importing scikit-learn (scipy with it) to
    reach one CSV file would take seconds of every run's start-up.
    """
    import gzip
    from importlib.util import find_spec

    spec = find_spec("sklearn")  # finds the package without importing it
    if spec is None or spec.origin is None:
        raise dpzoo.ConfigError("the digits come with scikit-learn: pip install scikit-learn")
    with gzip.open(Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz") as handle:
        data = np.loadtxt(handle, delimiter=",")
    return data[:, :-1].reshape(-1, 8, 8), data[:, -1].astype(int, copy=False)
