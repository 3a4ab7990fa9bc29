"""The denoising autoencoder (chapter 13; Vincent et al., 2008).

Training first corrupts the input by a stochastic map x -> x~, then
reconstructs the clean x from it: the loss compares g(f(x~)) with x, not x~.
To undo the corruption the code must capture how the data hang together
rather than copy pixels. Two corruptions (``corruption``):

* ``gaussian``: x~ = x + sigma * eps, eps ~ N(0, I);
* ``masking``:  x~ = x * m, m_i ~ Bernoulli(1 - rate): each input is zeroed
  with probability ``rate``.

Corruption is applied in training only; evaluation reconstructs the input
it is given (noisy test inputs included).
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import Tensor

from .deep import DeepAutoencoder, DeepAutoencoderConfig


class DenoisingConfig(DeepAutoencoderConfig):
    corruption: Literal["gaussian", "masking"] = Field(
        "gaussian", description="x~ = x + sigma eps, or x with a fraction 'rate' of inputs zeroed"
    )
    sigma: float = Field(0.5, ge=0.0, description="Standard deviation of the Gaussian corruption")
    rate: float = Field(0.3, ge=0.0, lt=1.0, description="Probability that masking zeroes an input, in [0, 1)")


class DenoisingAutoencoder(DeepAutoencoder):
    """Deep autoencoder trained to map corrupted inputs x~ back to the clean x."""

    Config = DenoisingConfig
    registered_name = "dae"

    def corrupt(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """One draw of x~ from the corruption process."""
        c = self.config
        if c.corruption == "gaussian":
            return x + c.sigma * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        keep = torch.rand(x.shape, generator=generator, device=x.device) >= c.rate
        return x * keep
