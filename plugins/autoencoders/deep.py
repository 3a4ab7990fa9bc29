"""The deep (MLP) autoencoder (chapter 13): a nonlinear generalisation of PCA.

    f(x) = W_L relu(... relu(W_1 x + b_1) ...) + b_L     (widths: hidden, then code)
    g(h) mirrors f: the hidden widths in reverse, then an affine map to x's size.

With ReLU hidden layers the code can follow curved structure in the data that
no linear subspace captures; with too much capacity it could merely memorise
the training set, which is why the code is kept small.
"""

from __future__ import annotations

from pydantic import Field

from .base import Autoencoder, AutoencoderConfig
from .networks import MLPDecoder, MLPEncoder


class DeepAutoencoderConfig(AutoencoderConfig):
    hidden: list[int] = Field([128], description="Widths of the encoder's hidden layers; the decoder mirrors them")


class DeepAutoencoder(Autoencoder):
    """MLP encoder to an affine code, mirrored MLP decoder."""

    Config = DeepAutoencoderConfig
    registered_name = "ae"

    def __init__(self, config=None, **overrides):
        super().__init__(config, **overrides)
        c = self.config
        self.encoder = MLPEncoder(self.shape, c.hidden, c.code)
        self.decoder = MLPDecoder(c.code, c.hidden, self.shape)
