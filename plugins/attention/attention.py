"""Scaled dot-product attention, written from its equation and through PyTorch's fused kernel (chapter 15).

The book's chapter 15 names the topic without equations; the symbols here are
those of Vaswani et al. (2017). For queries Q [T, d], keys K [S, d] and values
V [S, d_v],

    A = softmax(Q K^T / sqrt(d))          (each row of A sums to one)
    Attention(Q, K, V) = A V

Dividing by sqrt(d) keeps the scores' variance near one when the entries of
Q and K have unit variance, so the softmax does not saturate as d grows.
A *causal* mask lets position t attend to positions s <= t only: the scores
above the diagonal are set to -inf before the softmax, so their weights are 0
(an autoregressive model must not read the characters it is to predict).

``book_attention`` is the equation line by line and returns A as well;
``fused_attention`` is ``torch.nn.functional.scaled_dot_product_attention``
(a flash / memory-efficient kernel where one applies). Both take the same
tensors, so a model switches between them with no change to its weights.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def causal_mask(T: int, S: int | None = None, device=None) -> Tensor:
    """Boolean [T, S], True where query t may attend key s: s <= t (the lower triangle, aligned at the top left)."""
    S = T if S is None else S
    return torch.ones(T, S, dtype=torch.bool, device=device).tril()


def book_attention(
    q: Tensor, k: Tensor, v: Tensor, causal: bool = False, dropout: float = 0.0, training: bool = False
) -> tuple[Tensor, Tensor]:
    """(A V, A) for q [..., T, d], k [..., S, d], v [..., S, d_v]; A [..., T, S] is softmax(q k^T / sqrt(d))."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if causal:
        scores = scores.masked_fill(~causal_mask(q.shape[-2], k.shape[-2], q.device), float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    # dropout on the weights, as the fused kernel applies it (the rows then no longer sum to one)
    dropped = F.dropout(weights, dropout, training) if dropout and training else weights
    return dropped @ v, weights


def fused_attention(
    q: Tensor, k: Tensor, v: Tensor, causal: bool = False, dropout: float = 0.0, training: bool = False
) -> Tensor:
    """The same A V through PyTorch's kernel (which never forms A when it can avoid it)."""
    return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout if training else 0.0, is_causal=causal)
