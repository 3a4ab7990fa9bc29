"""The baseline set decoder: an MLP that outputs a fixed-size list (chapter 16, section 1.3.2).

z = h(X) is mapped by an MLP to N * (d + 1) numbers, read as N slots of d
coordinates and a presence logit each, m^_i = sigmoid(logit_i). The list is
ordered: slot i always comes from the same output units, so the network has
to learn an arbitrary order for an unordered target, which the book names as
the reason this is hard to learn (footnote 36); a permutation-invariant loss
(Chamfer, Hungarian) then picks which slot answers which element.
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import Tensor

from .encoder import SetEncoder, mlp
from .masks import check_sets
from .set_autoencoder import SetPredictionConfig, SetPredictor


class MLPDecoderConfig(SetPredictionConfig):
    hidden: list[int] = Field([256], description="Widths of the decoder MLP's hidden layers")


class MLPDecoder(SetPredictor):
    """z = h(X), then an MLP to N slots of [coordinates, presence]."""

    Config = MLPDecoderConfig
    registered_name = "mlpdecoder"

    def __init__(self, config: MLPDecoderConfig | None = None, **overrides):
        super().__init__(config, **overrides)
        c = self.config
        self.h = SetEncoder(c.element_dim, c.encoder)
        self.decoder = mlp([c.encoder.latent, *c.hidden, c.max_elements * (c.element_dim + 1)], final_activation=False)

    def forward(self, batch) -> dict[str, Tensor]:
        x = self.inputs(batch)
        mask = check_sets(x, batch.get("mask"), "mlpdecoder input")
        z = self.h.encode(x, mask)
        out = self.decoder(z).view(len(z), self.config.max_elements, self.config.element_dim + 1)
        return {"set": out[..., :-1], "mask": torch.sigmoid(out[..., -1]), "input_mask": mask}
