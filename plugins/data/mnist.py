"""MNIST: 70,000 handwritten digits, 28x28 grey levels (LeCun, Cortes and Burges).

x is stored as uint8 [N, 1, 28, 28] (a quarter of the memory of floats) and
``transform`` turns each batch into x / 255, float32 in [0, 1], on the device;
with ``normalise`` it is then standardised with the mean 0.1307 and standard
deviation 0.3081 of the 60,000 training images. y is the digit, int64.

Splits: train is the first 55,000 images of the training file, validation
its last 5,000, test the standard 10,000 test images.

The data come from the first of:

1. ``root`` in the config: a directory holding the four IDX files
   (``train-images-idx3-ubyte.gz`` and so on, gzipped or not), directly or
   in a ``mnist/`` sub-directory;
2. ``$DPZOO_DATA_DIR/mnist/``;
3. the Hugging Face hub, ``ylecun/mnist`` (the same images stored as PNG,
   which is lossless, so the splits should match those from the IDX files).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from pydantic import Field

import dpzoo
from dpzoo.tables import to_arrays

from .augment import AugmentConfig
from .errors import DataFormatError, DataUnavailableError
from .hub import load_from_hub
from .idx import read_idx
from .images import NUM_CLASSES, ImageClassification

FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
HUB_ID = "ylecun/mnist"
TRAIN = 55_000  # the rest of the training file (5,000 images) is the validation split
DATA_DIR_VARIABLE = "DPZOO_DATA_DIR"


class MNISTConfig(dpzoo.Config):
    root: str | None = Field(
        None,
        description="Directory with MNIST's four IDX files (gzipped or not); unset: $DPZOO_DATA_DIR/mnist, then the hub",
    )
    normalise: bool = Field(
        False, description="Standardise pixels with MNIST's mean 0.1307 and std 0.3081 (in transform)"
    )
    augment: AugmentConfig = Field(
        default_factory=AugmentConfig,
        description="Random shifts, turns, zooms and noise of training batches (off: all 0)",
    )


class MNIST(ImageClassification):
    """MNIST as uint8 [N, 1, 28, 28] with 55000/5000/10000 splits; floats in [0, 1] after ``transform``."""

    Config = MNISTConfig
    input_shape = (1, 28, 28)
    mean = 0.1307
    std = 0.3081

    def load(self):
        files = self.local_files()
        if files is not None:
            arrays = read_files(files)
            train = arrays["train_images"], arrays["train_labels"]
            test = arrays["test_images"], arrays["test_labels"]
            source = str(files["train_images"].parent)
        else:
            train, test = from_hub(load_from_hub(HUB_ID, instead=self.how_to_provide()))
            source = f"https://huggingface.co/datasets/{HUB_ID}"
        (x_train, y_train), (x_test, y_test) = train, test
        return self.splits(
            {
                "train": (x_train[:TRAIN, None], y_train[:TRAIN]),
                "validation": (x_train[TRAIN:, None], y_train[TRAIN:]),
                "test": (x_test[:, None], y_test),
            },
            "uint8",
            description=f"MNIST from {source}; train = first 55,000 training images, "
            "validation = last 5,000, test = the 10,000 test images",
            homepage="https://yann.lecun.com/exdb/mnist/",
            license="CC BY-SA 3.0",
        )

    def local_files(self) -> dict[str, Path] | None:
        """The four IDX files from ``root`` or ``$DPZOO_DATA_DIR/mnist``; ``None`` when neither is set up."""
        if self.config.root is not None:
            root = Path(self.config.root).expanduser()
            for directory in (root, root / "mnist"):
                files = find_files(directory)
                if files is not None:
                    return files
            raise DataUnavailableError(
                f"data.root is {root}, but neither it nor {root / 'mnist'} holds MNIST's IDX files "
                f"({', '.join(f'{stem}.gz' for stem in FILES.values())}; gzipped or not). "
                "Put them there, or unset data.root to use $DPZOO_DATA_DIR/mnist or the hub."
            )
        data_dir = os.environ.get(DATA_DIR_VARIABLE)
        return find_files(Path(data_dir).expanduser() / "mnist") if data_dir else None

    def how_to_provide(self) -> str:
        data_dir = os.environ.get(DATA_DIR_VARIABLE)
        where = f"{Path(data_dir) / 'mnist'} does not exist" if data_dir else f"{DATA_DIR_VARIABLE} is not set"
        return (
            "To use a local copy, put MNIST's four IDX files "
            f"({', '.join(f'{stem}.gz' for stem in FILES.values())}; gzipped or not) in a directory and "
            f"set data.root to it (--set data.root=DIR), or put them in ${DATA_DIR_VARIABLE}/mnist/ ({where}). "
            "Or go online (with HF_DATASETS_OFFLINE and HF_HUB_OFFLINE unset) to download them from the hub."
        )


def find_files(directory: Path) -> dict[str, Path] | None:
    """The four IDX files in ``directory``; ``None`` if it has none; an error naming the missing ones if some."""
    if not directory.is_dir():
        return None
    found, missing = {}, []
    for key, stem in FILES.items():
        names = [stem + ".gz", stem, stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"]
        path = next((directory / name for name in names if (directory / name).is_file()), None)
        if path is None:
            missing.append(stem + ".gz")
        else:
            found[key] = path
    if not found:
        return None
    if missing:
        raise DataUnavailableError(
            f"{directory} holds only part of MNIST: {', '.join(missing)} missing (gzipped or not)"
        )
    return found


def read_files(files: dict[str, Path]) -> dict[str, np.ndarray]:
    """The four arrays, checked against each other: 28x28 images, as many labels, digits 0..9."""
    arrays = {key: read_idx(path) for key, path in files.items()}
    for part in ("train", "test"):
        images, labels = arrays[f"{part}_images"], arrays[f"{part}_labels"]
        image_file, label_file = files[f"{part}_images"], files[f"{part}_labels"]
        if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
            raise DataFormatError(
                f"{image_file} holds {images.dtype} of shape {images.shape}, not uint8 28x28 MNIST images"
            )
        if labels.shape != (len(images),):
            raise DataFormatError(
                f"{label_file} holds {labels.shape} labels for the {len(images)} images of {image_file}"
            )
        if labels.size and (labels.min() < 0 or labels.max() >= NUM_CLASSES):
            raise DataFormatError(f"{label_file} has labels outside 0..9")
    if len(arrays["train_images"]) <= TRAIN:
        raise DataFormatError(
            f"{files['train_images']} has {len(arrays['train_images'])} images; MNIST's training file has 60,000"
        )
    return arrays


def from_hub(dataset_dict) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """(images, labels) of the hub's train and test splits, as uint8 [N, 28, 28] and int64 [N]."""

    def arrays(split):
        images = np.stack([np.asarray(image, dtype=np.uint8) for image in split["image"]])
        labels = to_arrays(split, ["label"])["label"].astype(np.int64)
        return images, labels

    return arrays(dataset_dict["train"]), arrays(dataset_dict["test"])
