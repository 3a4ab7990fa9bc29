"""DeepSets (Zaheer et al., 2017; chapter 16): a number from a set, y^ = rho( sum_i phi(x_i) ).

The set-input task here is DeepSets' digit sum: each element is a digit
(an image, or an integer embedded as a vector) and the target is the sum of
the digits. phi reads one element at a time, the pool adds over the set
(masked, so padding does not count), and rho maps the pooled vector to one
number. With sum pooling and a linear rho the model is a sum of per-element
terms, which is why it extends to sets longer than any seen in training.
"""

from __future__ import annotations

import math

from pydantic import Field
from torch import Tensor, nn

import dpzoo

from .encoder import EncoderConfig, Pool, SetEncoder


class DeepSetsEncoderConfig(EncoderConfig):
    pool: Pool = Field("sum", description="Permutation-invariant pooling: sum (DeepSets), mean or fspool")
    latent: int = Field(1, ge=1, description="Width of rho's output: 1 for a number")


class DeepSetsConfig(dpzoo.Config):
    element_shape: list[int] | None = Field(
        None, description="Shape of one element (an image [1, 8, 8]); read from the data when unset"
    )
    vocabulary: int | None = Field(
        None, description="Number of symbols when elements are integers (embedded); read from the data"
    )
    embedding: int = Field(16, ge=1, description="Width of an integer element's embedding")
    encoder: DeepSetsEncoderConfig = Field(DeepSetsEncoderConfig(), description="phi, the pool and rho")


class DeepSets(dpzoo.Model):
    """Set of elements [B, L, ...] with ``mask`` [B, L] -> one number per set [B]."""

    Config = DeepSetsConfig
    default_loss = "mae"
    default_metrics = ("mae", "rounded_accuracy")

    def __init__(self, config: DeepSetsConfig | None = None, **overrides):
        super().__init__(config, **overrides)
        c = self.config
        if c.element_shape is None and c.vocabulary is None:
            raise dpzoo.ConfigError(
                "model 'deepsets' needs element_shape (image elements) or vocabulary (integer elements): "
                "set one, or train with --data so it is read from the data"
            )
        self.embed = nn.Embedding(c.vocabulary, c.embedding) if c.vocabulary is not None else None
        d_in = c.embedding if self.embed is not None else math.prod(c.element_shape)
        self.encoder = SetEncoder(d_in, c.encoder)

    def forward(self, batch) -> Tensor:
        x = self.inputs(batch)
        elements = self.embed(x.long()) if self.embed is not None else x.flatten(2)
        return self.encoder(elements, batch.get("mask")).squeeze(-1)
