"""The adversarial losses (chapter 14.3), written on the discriminator's logits.

With D(x) = sigmoid(d(x)) the probability that x is real, the two players
share the value function

    V(D, G) = E_x[log D(x)] + E_z[log(1 - D(G(z)))],

which D maximises and G minimises. Since log sigmoid(a) = -softplus(-a) and
log(1 - sigmoid(a)) = -softplus(a), on logits a:

    discriminator:  L_D = E_x[softplus(-d(x))] + E_z[softplus(d(G(z)))] = -V
    minimax G:      L_G = E_z[log(1 - D(G(z)))]  = -E_z[softplus(d(G(z)))]
    non-saturating: L_G = -E_z[log D(G(z))]      =  E_z[softplus(-d(G(z)))]

For a fixed G the best discriminator is D*(x) = p_data(x) / (p_data(x) + p_g(x)).
Early in training D rejects samples easily, D(G(z)) ~ 0, where the minimax
loss is flat: dL_G/da = -sigmoid(a) = -D(G(z)) -> 0. The non-saturating loss
has the same fixed point but a gradient dL_G/da = -(1 - D(G(z))) -> -1 there,
so it is the default.
"""

from __future__ import annotations

from typing import Literal

import torch.nn.functional as F
from torch import Tensor

GeneratorLoss = Literal["non_saturating", "minimax"]


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """L_D = E[softplus(-d(x))] + E[softplus(d(G(z)))]: binary cross-entropy, real = 1, fake = 0."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss(fake_logits: Tensor, kind: GeneratorLoss = "non_saturating") -> Tensor:
    """-E[log D(G(z))] (non-saturating) or E[log(1 - D(G(z)))] (minimax)."""
    if kind == "non_saturating":
        return F.softplus(-fake_logits).mean()
    if kind == "minimax":
        return -F.softplus(fake_logits).mean()
    raise ValueError(f"generator loss must be 'non_saturating' or 'minimax', got {kind!r}")
