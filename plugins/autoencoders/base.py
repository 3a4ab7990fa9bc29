"""What every autoencoder shares (chapter 13): h = f(x), r = g(h), a reconstruction loss.

The encoder f maps an example x to its code h; the decoder g maps the code
back to a reconstruction r, and training minimises the reconstruction error
between r and x. The labels y are never read, so any image dataset serves.

The error matches the data's range (``reconstruction``):

* ``mse``: ||x - r||^2 per element, the Gaussian likelihood's criterion; the
  decoder's output is r itself (linear, so a linear autoencoder is linear);
* ``bce``: the Bernoulli likelihood for x in [0, 1]; the decoder outputs
  logits l and r = sigmoid(l). Data outside [0, 1] is refused.

``forward(batch)`` returns what the loss reads (r, or the logits of r);
``encode(x)`` returns h and ``decode(h)`` returns r in the data's space;
``reconstruct(x) = decode(encode(x))``.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import torch
from pydantic import Field
from torch import Tensor, nn

import dpzoo
from dpzoo.media import image_grid, upscale

from .checks import check_unit_interval
from .networks import image_shape

LOSSES = {"mse": "mse", "bce": "bce_logits"}


class AutoencoderConfig(dpzoo.Config):
    input_shape: list[int] | None = Field(
        None, description="Shape of one example [C, H, W]; read from the data when unset"
    )
    code: int = Field(16, ge=1, description="Size m of the code h")
    reconstruction: Literal["mse", "bce"] = Field(
        "mse", description="Reconstruction error: mse for any real x, bce (Bernoulli, sigmoid output) for x in [0, 1]"
    )


class Autoencoder(dpzoo.Model):
    """Base: subclasses build ``self.encoder`` (x -> h) and ``self.decoder`` (h -> r or its logits)."""

    Config = AutoencoderConfig
    default_metrics = ()  # unlabelled: the loss is the figure of merit
    registered_name: ClassVar[str]
    encoder: nn.Module
    decoder: nn.Module

    def __init__(self, config: dpzoo.Config | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self.shape = image_shape(self.config.input_shape, self.registered_name)
        self.default_loss = {"name": LOSSES[self.config.reconstruction], "target": "x"}
        self._checked = False

    def encode(self, x: Tensor) -> Tensor:
        """The code h = f(x), [N, m]."""
        return self.encoder(x)

    def decode(self, h: Tensor) -> Tensor:
        """The reconstruction r = g(h) in the data's space, [N, *input_shape]."""
        out = self.decoder(h).reshape(-1, *self.shape)
        return torch.sigmoid(out) if self.config.reconstruction == "bce" else out

    def reconstruct(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x))

    def corrupt(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """The input the encoder sees in training; the identity except for the denoising autoencoder."""
        return x

    def forward(self, batch) -> Tensor:
        x = self.inputs(batch)
        self._check(x)
        x_in = self.corrupt(x) if self.training else x
        return self.decoder(self.encode(x_in)).reshape(x.shape)

    def _check(self, x: Tensor) -> None:
        if not self._checked:
            if self.config.reconstruction == "bce":
                check_unit_interval(x, "model.reconstruction=bce", "model.reconstruction=mse")
            self._checked = True

    @torch.no_grad()
    def log_media(self, ctx) -> None:
        """``media/reconstructions``: 8 validation inputs over their reconstructions (over the corrupted inputs first, if any)."""
        if len(self.shape) != 3:
            return
        _, x = ctx.predict("validation", target="x")
        x = x[:8]
        x_in = self.corrupt(x, torch.Generator(device=x.device).manual_seed(0))
        rows = [x] if x_in is x else [x, x_in]
        grid = image_grid(torch.cat([*rows, self.reconstruct(x_in)]).clamp(0, 1), nrow=len(x))
        ctx.log_image("media/reconstructions", upscale(grid, 4) if x.shape[-1] < 16 else grid)
