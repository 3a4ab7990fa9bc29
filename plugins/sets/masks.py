"""Masks for sets of varying size (chapter 16).

A batch of sets is padded to a common size N: elements X [B, N, d] and a
mask m [B, N] with m_i = 1 for an element of the set and m_i = 0 for padding.
Every encoder and set loss here multiplies or selects by m, so that what a
padded slot holds never changes a result. Values of m strictly between 0 and 1
are the Deep Set Prediction Network's relaxed presence: element i is in the
set "with weight m_i".

Bad input has documented behaviour, checked by ``check_sets``: an empty set
(N = 0) or a set whose mask hides every element has no encoding, so it is an
error that names the offending example, never a silent NaN.
"""

from __future__ import annotations

import torch
from torch import Tensor

import dpzoo


class SetError(dpzoo.ConfigError):
    """A batch of sets the encoders cannot read: wrong shape, no elements, or a mask that hides all of them."""


def full_mask(x: Tensor) -> Tensor:
    """m = 1 for every element of X [B, N, ...]: no padding."""
    return torch.ones(x.shape[:2], dtype=x.dtype if x.is_floating_point() else torch.float32, device=x.device)


def check_sets(x: Tensor, mask: Tensor | None, who: str) -> Tensor:
    """The mask to use for X [B, N, ...] (all ones when ``mask`` is None), after checking both.

    Raises ``SetError`` when X has no element axis or N = 0 (an empty set), when
    the mask's shape is not [B, N], or when it hides every element of some set.
    """
    if x.dim() < 2:
        raise SetError(f"{who}: sets must be [batch, elements, ...], got a tensor of shape {list(x.shape)}")
    if x.shape[1] == 0:
        raise SetError(
            f"{who}: the sets are empty (0 elements); an empty set has no encoding, give at least one element"
        )
    if mask is None:
        return full_mask(x)
    if mask.shape != x.shape[:2]:
        raise SetError(f"{who}: the mask must be [batch, elements] = {list(x.shape[:2])}, got {list(mask.shape)}")
    mask = mask.to(x.dtype) if x.is_floating_point() else mask.float()
    empty = (mask <= 0).all(dim=1)
    if bool(empty.any()):
        which = empty.nonzero().flatten().tolist()
        raise SetError(
            f"{who}: the mask hides every element of set(s) {which[:10]} of the batch; "
            "an empty set has no encoding: drop those examples or give each set at least one element"
        )
    return mask
