"""Target images to sketch (section 1.3.5): digits, MNIST, scikit-image's samples or the user's PNG.

Every split holds the same M images (sketching by optimisation fits these
images; there is nothing to generalise to), as x float32 [M, 1, H, W] in
[0, 1], bright ink on a dark ground, with i = 0..M-1 naming each image for
the model ``sketch``.

``source`` is one of:
- ``digits`` or ``mnist``: the first ``count`` images of that set's test split;
- ``skimage:NAME``: ``skimage.data.NAME()`` (``camera``, ``coins``, ...), when
  scikit-image is installed (it is not a dpzoo dependency);
- a path to a PNG file (8-bit grey or colour) or to a folder of them.
Photographs are dark lines on a light ground: ``invert="auto"`` flips an
image whose mean is above one half, so the strokes draw the dark parts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import torch
from pydantic import Field

import dpzoo

SPLITS = ("train", "validation", "test")


class SketchTargetsConfig(dpzoo.Config):
    source: str = Field("digits", description="'digits', 'mnist', 'skimage:NAME', or a PNG file or folder of PNGs")
    count: int = Field(8, ge=1, description="How many images of digits/mnist to take (the first of the test split)")
    size: int | None = Field(
        None, ge=2, description="Shrink the longer side to this many pixels (area averaging); unset keeps it"
    )
    invert: Literal["auto", "yes", "no"] = Field(
        "auto", description="Flip light-ground images to bright ink on dark ('auto': if the mean > 0.5)"
    )


def shrink(image: np.ndarray, size: int | None) -> np.ndarray:
    """[H, W] -> longer side ``size`` by area averaging (no change if already that small)."""
    height, width = image.shape
    if size is None or max(height, width) <= size:
        return image
    scale = size / max(height, width)
    out = (max(1, round(height * scale)), max(1, round(width * scale)))
    return torch.nn.functional.interpolate(torch.from_numpy(image)[None, None], size=out, mode="area")[0, 0].numpy()


def orient(image: np.ndarray, invert: str) -> np.ndarray:
    return 1.0 - image if invert == "yes" or (invert == "auto" and image.mean() > 0.5) else image


def load_images(source: str, count: int) -> list[np.ndarray]:
    """The source's grey images, each [H, W] float in [0, 1]."""
    if source in ("digits", "mnist"):
        dataset = dpzoo.create("dataset", source)
        stored = dataset.load()["test"].with_format("numpy")[:count]["x"]
        x = dataset.transform({"x": torch.from_numpy(np.asarray(stored))})["x"]  # the data's own pixel scale to [0, 1]
        return [image[0].double().numpy() for image in x]
    if source.startswith("skimage:"):
        try:
            from skimage import color, data
        except ImportError:
            raise dpzoo.ConfigError(
                f"data source {source!r} needs scikit-image, which is not installed: pip install scikit-image, "
                "or use a PNG file as source"
            ) from None
        name = source.partition(":")[2]
        image = np.asarray(getattr(data, name)(), dtype=np.float64)
        image = color.rgb2gray(image[..., :3]) if image.ndim == 3 else image / (255.0 if image.max() > 1 else 1.0)
        return [image]
    from .png import read_png, to_grey

    path = Path(source)
    files = sorted(path.glob("*.png")) if path.is_dir() else [path]
    if not files or not files[0].exists():
        raise dpzoo.ConfigError(
            f"data source {source!r} is neither 'digits', 'mnist', 'skimage:NAME' nor an existing PNG file or folder of PNGs"
        )
    return [to_grey(read_png(f)) for f in files]


class SketchTargets(dpzoo.Dataset):
    """M target images, the same in every split, with their index i."""

    Config = SketchTargetsConfig
    columns = ("x", "i")
    default_loss = {"name": "mse", "target": "x"}
    default_metrics = ("pixel_mse",)

    def images(self) -> np.ndarray:
        if getattr(self, "_images", None) is not None:  # info() and load() both need them
            return self._images
        c = self.config
        images = [orient(shrink(image, c.size), c.invert) for image in load_images(c.source, c.count)]
        shapes = {image.shape for image in images}
        if len(shapes) > 1:
            raise dpzoo.ConfigError(
                f"the images of {c.source!r} differ in size {sorted(shapes)}: set size, or use one size"
            )
        self._images = np.stack(images).astype(np.float32)[:, None]
        return self._images

    def info(self) -> dict:
        x = self.images()
        return {"input_shape": list(x.shape[1:]), "num_images": len(x)}

    def load(self):
        import datasets

        from dpzoo.tables import to_dataset

        x = self.images()
        features = datasets.Features({"x": datasets.Array3D(x.shape[1:], "float32"), "i": datasets.Value("int64")})
        arrays = {"x": x, "i": np.arange(len(x), dtype=np.int64)}
        return datasets.DatasetDict(
            {s: to_dataset(arrays, features, description=f"images to sketch from {self.config.source}") for s in SPLITS}
        )
