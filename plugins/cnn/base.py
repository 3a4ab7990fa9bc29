"""What the convolutional classifiers share (chapter 11).

Each model reads images of shape ``input_shape = [C, H, W]`` and returns
``num_classes`` logits; the trainer fills both from the data, so one config
serves 8x8 digits and 28x28 MNIST. Layer sizes follow the arithmetic of a
convolution, ``floor((n + 2p - k) / s) + 1``, rather than a trial forward pass.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import torch
from pydantic import Field
from torch import Tensor, nn

import dpzoo
from dpzoo import figures

from . import media


class ConvConfig(dpzoo.Config):
    """Fields every convolutional classifier here has."""

    input_shape: list[int] | None = Field(
        None, description="Image shape [channels, height, width]; read from the data when unset"
    )
    num_classes: int | None = Field(None, description="Number of output logits; read from the data when unset")
    padding_mode: Literal["zeros", "circular", "reflect", "replicate"] = Field(
        "zeros", description="How convolutions pad the border; 'circular' makes them exactly shift-equivariant"
    )


def output_size(n: int, kernel_size: int, stride: int = 1, padding: int = 0) -> int:
    """Side of a convolution's or pooling's output: floor((n + 2p - k) / s) + 1."""
    return (n + 2 * padding - kernel_size) // stride + 1


class ConvClassifier(dpzoo.Model):
    """Base class: checks the data-given sizes, reshapes flat inputs, logs media."""

    default_loss = "cross_entropy"
    default_metrics = ("accuracy",)
    data_fields = ("input_shape", "num_classes")
    registered_name: ClassVar[str]  # the name the plugin registers, for error messages

    def __init__(self, config: dpzoo.Config | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        c = self.config
        shape = list(c.input_shape)
        if len(shape) == 2:  # a grey image given as [H, W]
            shape = [1, *shape]
        if len(shape) != 3 or min(shape) < 1:
            raise dpzoo.ConfigError(
                f"model {self.registered_name!r}: input_shape must be [channels, height, width], got {c.input_shape}"
            )
        self.image_shape: tuple[int, int, int] = tuple(shape)

    def images(self, batch) -> Tensor:
        """The batch's input as [N, C, H, W]; flat or channel-less images are reshaped to input_shape."""
        x = self.inputs(batch)
        return x if x.dim() == 4 else x.reshape(x.shape[0], *self.image_shape)

    def first_layer_filters(self) -> Tensor:
        """The first convolution's kernels, [out_channels, in_channels, k, k]."""
        first = next(m for m in self.modules() if isinstance(m, nn.Conv2d))
        return first.weight.detach().clone()

    @torch.no_grad()
    def log_media(self, ctx) -> None:
        """Log the first-layer filters and the validation confusion matrix (a labelled figure and a table)."""
        ctx.logger.add_image("media/first_layer_filters", media.filter_grid(self.first_layer_filters()), ctx.step)
        logits, targets = ctx.predict("validation")
        counts = media.confusion_matrix(logits, targets, self.config.num_classes)
        ctx.logger.add_figure("media/confusion_matrix", figures.confusion_matrix(counts, split="validation"), ctx.step)
        if hasattr(ctx.logger, "add_text"):
            ctx.logger.add_text("media/confusion_matrix", media.confusion_text(counts, "validation"), ctx.step)
