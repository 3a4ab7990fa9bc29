"""The linear undercomplete autoencoder (chapter 13).

    h = W_e x + b_e,    r = W_d h + b_d,    x in R^n, h in R^m, m < n.

Trained with the MSE, its reconstructions span the same m-dimensional
subspace as PCA's first m principal components (Bourlard and Kamp, 1988;
Baldi and Hornik, 1989), and its error reaches PCA's, but W_d's columns need
not be orthogonal: any invertible mixing of the principal directions,
W_d A and A^-1 W_e, reconstructs as well. ``tests/test_autoencoders.py``
checks both: the principal angles between the two subspaces and the errors.
"""

from __future__ import annotations

import math

from torch import nn

from .base import Autoencoder


class LinearAutoencoder(Autoencoder):
    """h = W_e x + b_e, r = W_d h + b_d."""

    registered_name = "linear_ae"

    def __init__(self, config=None, **overrides):
        super().__init__(config, **overrides)
        n, m = math.prod(self.shape), self.config.code
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(n, m))  # W_e, b_e
        self.decoder = nn.Linear(m, n)  # W_d, b_d
