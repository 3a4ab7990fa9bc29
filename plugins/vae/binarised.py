"""Binarised digits for Bernoulli decoders (chapter 14.2): ``binarised_mnist`` and ``binarised_digits``.

A Bernoulli likelihood p(x|z) is a true likelihood only for binary x, so
grey pixels are read as probabilities and binarised (Salakhutdinov and
Murray, 2008), x_i ~ Bernoulli(g_i / g_max):

* training split: **dynamic** binarisation, a fresh draw every time a batch
  is served (it acts as a regulariser and keeps every grey level's
  information over the epochs);
* validation and test splits: one **fixed** draw, made when the data is
  loaded with ``numpy.random.default_rng([seed, s])`` (s = 0 validation,
  1 test; ``seed`` in the config, so it is recorded in every run record and
  model card, and the split fingerprints pin the exact bits).

Storage: the training split keeps its uint8 grey levels 0..g_max (255 for
MNIST, 16 for the 8x8 digits); a fixed split is stored as bool. ``transform``
serves a grey batch as x = [u < g / g_max] with u ~ U[0, 1) drawn on the
device, and a bool batch as it is, so evaluation and media draw nothing from
the random stream that training uses (an evaluation schedule cannot change
what training sees). x is float32 {0, 1}, shape [N, 1, H, W]; y (the digit)
is kept, for plots coloured by class.

Splits are those of ``digits`` (1,257/180/360) and ``mnist`` (55,000/5,000/10,000).
"""

from __future__ import annotations

import datasets
import numpy as np
import torch
from pydantic import Field
from torch import Tensor

import dpzoo
from dpzoo.plugins.data.digits import PIXEL_MAX as DIGITS_MAX, split_indices
from dpzoo.plugins.data.images import ImageClassification
from dpzoo.plugins.data.mnist import MNIST, MNISTConfig
from dpzoo.tables import to_arrays

FIXED_SPLITS = ("validation", "test")  # binarised once, with default_rng([seed, position in this tuple])


def binarise_fixed(grey: np.ndarray, pixel_max: int, seed: int, split: str) -> np.ndarray:
    """One seeded draw x = [u < g / g_max], as bool."""
    u = np.random.default_rng([seed, FIXED_SPLITS.index(split)]).random(grey.shape)
    return u < grey / pixel_max


class BinarisedConfig(dpzoo.Config):
    seed: int = Field(0, description="Seed of the fixed binarisation of the validation and test splits")


class Binarised(ImageClassification):
    """Base: uint8 grey levels for training, binarised in ``transform``; fixed bool validation/test bits."""

    Config = BinarisedConfig
    default_loss = None
    default_metrics = ()
    pixel_max = 255.0
    mean = std = float("nan")  # binarised pixels are never standardised

    def binarised(self, arrays: dict[str, tuple[np.ndarray, np.ndarray]], **info):
        """A ``DatasetDict`` of (grey uint8 x, y) splits with the validation and test x binarised once."""
        info["description"] = (
            info.get("description", "") + f"; binarised: train dynamically (x ~ Bernoulli(g/{int(self.pixel_max)}) "
            f"per batch), validation and test once with numpy.random.default_rng([{self.config.seed}, 0 or 1])"
        )
        splits = {}
        for name, (x, y) in arrays.items():
            if name in FIXED_SPLITS:
                x, dtype = binarise_fixed(x, int(self.pixel_max), self.config.seed, name), "bool"
            else:
                dtype = "uint8"
            splits[name] = self.splits({name: (x, y)}, dtype, **info)[name]
        return datasets.DatasetDict(splits)

    def transform(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        x = batch["x"]
        if x.dtype == torch.bool:  # a fixed split: served as stored
            return {**batch, "x": x.float()}
        p = x.float() / self.pixel_max
        return {**batch, "x": (torch.rand_like(p) < p).float()}


class BinarisedDigits(Binarised):
    """scikit-learn's 8x8 digits binarised: x in {0, 1}, [N, 1, 8, 8]; splits 1257/180/360 as ``digits``."""

    input_shape = (1, 8, 8)
    pixel_max = DIGITS_MAX

    def load(self):
        from sklearn.datasets import load_digits

        digits = load_digits()
        grey = digits.images.astype(np.uint8)[:, None]  # integers 0..16
        return self.binarised(
            {name: (grey[index], digits.target[index]) for name, index in split_indices().items()},
            description="scikit-learn's 8x8 digits, splits of dpzoo's 'digits'",
            homepage="https://archive.ics.uci.edu/dataset/80",
            license="CC BY 4.0",
        )


class BinarisedMNISTConfig(BinarisedConfig):
    root: str | None = Field(
        None,
        description="Directory with MNIST's four IDX files (gzipped or not); unset: $DPZOO_DATA_DIR/mnist, then the hub",
    )


class BinarisedMNIST(Binarised):
    """MNIST binarised: x in {0, 1}, [N, 1, 28, 28]; splits 55000/5000/10000 as ``mnist``."""

    Config = BinarisedMNISTConfig
    input_shape = MNIST.input_shape

    def load(self):
        grey = MNIST(MNISTConfig(root=self.config.root)).load()
        info = grey["train"].info
        arrays = {name: tuple(to_arrays(split, ["x", "y"]).values()) for name, split in grey.items()}
        return self.binarised(arrays, description=info.description, homepage=info.homepage, license=info.license)
