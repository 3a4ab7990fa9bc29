"""The sparse autoencoder (chapter 13): a code penalised towards few active units.

The code h = relu(f(x)) may be wider than x (overcomplete); sparsity, not
size, keeps the autoencoder from copying. The loss adds an L1 penalty

    l = l_rec(x, g(h)) + Omega(h),    Omega(h) = lambda sum_i |h_i|,

whose subgradient pushes small activations to exactly zero (the ReLU makes
zero reachable). The model returns r (or its logits) and Omega(h) per
example; the loss ``reconstruction_l1`` adds the batch mean of Omega to the
reconstruction error (per element, as ``mse`` and ``bce_logits`` compute it)
and logs the two terms apart, ``reconstruction`` and ``l1``.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor

import dpzoo

from .base import Autoencoder, AutoencoderConfig
from .networks import MLPDecoder, MLPEncoder


class SparseConfig(AutoencoderConfig):
    code: int = Field(128, ge=1, description="Size m of the code h; may exceed the input's (overcomplete)")
    hidden: list[int] = Field([], description="Widths of hidden layers before the code; the decoder mirrors them")
    lam: float = Field(1e-3, ge=0.0, description="Weight lambda of the L1 penalty lambda sum_i |h_i| on the code")


class SparseAutoencoder(Autoencoder):
    """h = relu(f(x)) with an L1 penalty on h; the penalty is its own loss term."""

    Config = SparseConfig
    registered_name = "sparse_ae"

    def __init__(self, config=None, **overrides):
        super().__init__(config, **overrides)
        c = self.config
        self.encoder = MLPEncoder(self.shape, c.hidden, c.code)
        self.decoder = MLPDecoder(c.code, c.hidden, self.shape)
        self.default_loss = {"name": "reconstruction_l1", "target": "x", "error": c.reconstruction}

    def encode(self, x: Tensor) -> Tensor:
        return torch.relu(self.encoder(x))

    def forward(self, batch) -> dict[str, Tensor]:
        x = self.inputs(batch)
        self._check(x)
        h = self.encode(x)
        return {"r": self.decoder(h).reshape(x.shape), "l1": self.config.lam * h.abs().sum(1)}


class ReconstructionL1Config(dpzoo.Config):
    target: str = Field("x", description="Batch key that holds the x to reconstruct")
    error: Literal["mse", "bce"] = Field("mse", description="mse on r, or bce on the logits of r (x in [0, 1])")


class ReconstructionL1(dpzoo.Loss):
    """Reconstruction error of output['r'] against x, plus the mean of output['l1'] (lambda sum |h_i|)."""

    Config = ReconstructionL1Config

    def __call__(self, output, batch) -> dpzoo.LossOutput:
        r, x = output["r"], batch[self.config.target].reshape(output["r"].shape).to(output["r"].dtype)
        if self.config.error == "mse":
            reconstruction = F.mse_loss(r, x)
        else:
            reconstruction = F.binary_cross_entropy_with_logits(r, x)
        l1 = output["l1"].mean()
        return dpzoo.LossOutput(reconstruction + l1, {"reconstruction": reconstruction, "l1": l1})
