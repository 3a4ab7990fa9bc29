"""A permutation-invariant set encoder, g(X) = rho( pool_i phi(x_i) ) (chapter 16).

phi is an MLP applied to each element on its own, so it commutes with any
permutation of the elements; the pool (DeepSets' sum or mean, or FSPool) is
invariant to their order and ignores padded slots; rho is an MLP on the
pooled vector. The composition is therefore invariant to permuting X, and to
adding padded slots, whatever the weights. This is the g of the book's
section 1.3.2, and the h of a set-input model.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from torch import Tensor, nn

import dpzoo

from .fspool import FSPool
from .masks import check_sets
from .pooling import MeanPool, SumPool

Pool = Literal["sum", "mean", "fspool"]


class EncoderConfig(dpzoo.Config):
    hidden: list[int] = Field(
        [64, 64], description="Widths of phi's layers, applied to each element; the last is the pooled width"
    )
    pool: Pool = Field("fspool", description="Permutation-invariant pooling: DeepSets' sum or mean, or FSPool")
    pieces: int = Field(20, ge=1, description="FSPool's number k of linear pieces of W_d(r)")
    rho: list[int] = Field([], description="Widths of rho's hidden layers after pooling")
    latent: int = Field(32, ge=1, description="Width of the set's encoding")


def mlp(widths: list[int], final_activation: bool) -> nn.Sequential:
    """Linear layers between consecutive widths, ReLU between them (and after the last if asked)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(widths, widths[1:])):
        layers.append(nn.Linear(a, b))
        if final_activation or i < len(widths) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class SetEncoder(nn.Module):
    """[B, N, d_in] elements and a [B, N] mask -> [B, latent] encoding."""

    def __init__(self, d_in: int, config: EncoderConfig):
        super().__init__()
        if not config.hidden:
            raise dpzoo.ConfigError("encoder.hidden must name at least one layer width for phi, e.g. [64, 64]")
        self.phi = mlp([d_in, *config.hidden], final_activation=True)
        width = config.hidden[-1]
        self.pool = (
            {"sum": SumPool, "mean": MeanPool}[config.pool]()
            if config.pool != "fspool"
            else FSPool(width, config.pieces)
        )
        self.rho = mlp([width, *config.rho, config.latent], final_activation=False)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """The encoding of checked sets: an empty set or an all-hidden mask is a ``SetError``."""
        return self.encode(x, check_sets(x, mask, "set encoder"))

    def encode(self, x: Tensor, mask: Tensor) -> Tensor:
        """The encoding without checks, for a model's own relaxed sets (DSPN's inner loop)."""
        return self.rho(self.pool(self.phi(x), mask))
