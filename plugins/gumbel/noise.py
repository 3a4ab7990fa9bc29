"""Gumbel noise and the Gumbel-max trick (chapter 9).

If g_1, ..., g_K are i.i.d. Gumbel(0, 1), computed from uniform variates as

    g_i = -log(-log U_i),   U_i ~ Uniform(0, 1),

then t = argmax_i (x_i + g_i) is distributed as Cat(softmax(x)): sampling a
category needs only its logits x, never the normalised probabilities.

The noise is drawn from ``generator`` when one is given, else from torch's
default generator of x's device: the trainer seeds that one and saves its
state in every checkpoint, so training runs repeat and resume bit for bit.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def check_categories(x: Tensor) -> None:
    """A categorical over the last dimension of x needs at least two classes."""
    if x.dim() == 0 or x.shape[-1] < 2:
        shape = tuple(x.shape)
        raise ValueError(
            f"a categorical needs K >= 2 classes along the last dimension; logits of shape {shape} have fewer"
        )


def gumbel_noise(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Gumbel(0, 1) variates g of x's shape, dtype and device (no gradient)."""
    u = torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device)
    # torch.rand may return exactly 0, and -log(-log 0) = -inf; the smallest
    # positive float keeps every g finite (it changes U's law by < 1e-38).
    u = u.clamp_(min=torch.finfo(x.dtype).tiny)
    return -torch.log(-torch.log(u))


def gumbel_max(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Category indices t = argmax_i (x_i + g_i), one per row of the last dimension: t ~ Cat(softmax(x))."""
    check_categories(x)
    return (x.detach() + gumbel_noise(x, generator)).argmax(dim=-1)


def one_hot(t: Tensor, k: int, like: Tensor) -> Tensor:
    """onehot(t) over k classes in like's dtype."""
    return F.one_hot(t, k).to(like.dtype)


def sample_one_hot(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """onehot(argmax(x + g)): an exact sample of Cat(softmax(x)) as a one-hot row, with no gradient."""
    return one_hot(gumbel_max(x, generator), x.shape[-1], x)
