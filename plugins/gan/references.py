"""The two reference points a generator's scores are read against.

A Fréchet distance means little alone, so each score is set beside:

* the floor: real training images scored against the real evaluation split
  (as many training images as the split holds, the first ones in order):
  what a perfect generator would get, sampling noise and all;
* the ceiling: an untrained generator (the DCGAN initialisation drawn with
  ``torch.manual_seed(seed)``), what training starts from.

Both go through the same path as the trained generator's scores: a module
whose output stands in for generated images, the trainer's ``evaluate`` over
the whole split in order, CPU float32, the same metrics.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

METRICS = ("frechet_distance", "inception_score")


class RealImages(nn.Module):
    """Stands in for a generator: returns the next of ``images``, batch by batch, from the start at each evaluation."""

    def __init__(self, images: Tensor):
        super().__init__()
        self.images, self.position = images, 0

    def train(self, mode: bool = True):
        self.position = 0
        return super().train(mode)

    def forward(self, batch) -> Tensor:
        n = len(batch["x"])
        if self.position + n > len(self.images):
            raise ValueError(
                f"{len(self.images)} reference images cannot stand in for more than that many generated ones"
            )
        out = self.images[self.position : self.position + n]
        self.position += n
        return out


def scores(model: nn.Module, data, split: str, batch_size: int = 1024) -> dict[str, float]:
    """``{metric: value}`` of ``model``'s outputs against ``split``, as the trainer's evaluation computes them."""
    import dpzoo
    from dpzoo.trainer import evaluate

    metrics = {name: dpzoo.create("metric", name) for name in METRICS}
    values = evaluate(model.to("cpu"), data, split, metrics=metrics, batch_size=batch_size)
    return {name: values[f"{split}/{name}"] for name in METRICS}


def reference_scores(
    data_section: dict[str, Any],
    model_config: dict[str, Any],
    split: str = "test",
    seed: int = 0,
    batch_size: int = 1024,
) -> dict[str, dict[str, float]]:
    """``{"real": {...}, "untrained": {...}, "split": {...}}``: the floor, the ceiling, and the split scored against itself.

    The split against itself has a Fréchet distance of 0 by construction; its
    Inception-style score is what the classifier gives real images of the split.
    """
    import dpzoo
    from dpzoo.pretrained import load_data

    loaded = load_data(data_section, ["train", split])
    data = loaded.data
    n = data.size(split)
    real = data.gather("train", torch.arange(n))["x"]
    torch.manual_seed(seed)
    untrained = dpzoo.create_model("dcgan", **model_config)
    return {
        "real": scores(RealImages(real), data, split, batch_size),
        "untrained": scores(untrained, data, split, batch_size),
        "split": scores(RealImages(data.gather(split, torch.arange(n))["x"]), data, split, batch_size),
    }


def card_note(references: dict[str, dict[str, float]], split: str, seed: int) -> str:
    """The references as one line for a model card (``dpzoo zoo publish --note``); ``parse_note`` reads it back."""
    real, untrained = references["real"], references["untrained"]
    return (
        f"real {split} images inception_score={references['split']['inception_score']:.6f}; "
        f"references on the {split} split: real training images frechet_distance={real['frechet_distance']:.6f} "
        f"inception_score={real['inception_score']:.6f}; untrained generator (seed {seed}) "
        f"frechet_distance={untrained['frechet_distance']:.6f} inception_score={untrained['inception_score']:.6f}"
    )


def parse_note(note: str) -> dict[str, dict[str, float]]:
    """The inverse of ``card_note``."""
    import re

    itself, _, rest = note.partition("references on the")
    real, _, untrained = rest.partition("untrained generator")

    def pick(text: str, names=METRICS) -> dict[str, float]:
        return {name: float(re.search(rf"{name}=([-0-9.e]+)", text).group(1)) for name in names}

    return {"real": pick(real), "untrained": pick(untrained), "split": pick(itself, ["inception_score"])}
