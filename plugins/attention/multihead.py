"""Multi-head self-attention (chapter 15).

With model width D and H heads of width d = D / H, each head h projects the
input X [T, D] to its own queries, keys and values,

    Q_h = X W_h^Q,  K_h = X W_h^K,  V_h = X W_h^V          (W_h^* in R^{D x d})
    head_h = Attention(Q_h, K_h, V_h)
    MultiHead(X) = [head_1, ..., head_H] W^O               (W^O in R^{D x D})

so the heads may attend to different positions for different reasons. All 3H
projections are one D x 3D matrix (``qkv``), split after the product.
``impl`` chooses the equation (``book``) or PyTorch's fused kernel
(``fused``) for the attention itself; the projections are shared, so the two
load the same state dict.
"""

from __future__ import annotations

from typing import Literal

from torch import Tensor, nn

from .attention import book_attention, fused_attention


class MultiHeadSelfAttention(nn.Module):
    def __init__(
        self,
        width: int,
        heads: int,
        dropout: float = 0.0,
        causal: bool = True,
        impl: Literal["book", "fused"] = "fused",
        attention_dropout: float | None = None,
    ):
        super().__init__()
        if width % heads:
            raise ValueError(f"width {width} is not divisible by heads {heads}")
        self.heads, self.causal, self.impl = heads, causal, impl
        self.dropout = dropout if attention_dropout is None else attention_dropout  # on the attention weights
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)
        self.residual_dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, need_weights: bool = False) -> tuple[Tensor, Tensor | None]:
        """(output [B, T, D], attention weights [B, H, T, T] when ``need_weights`` (computed by the book path), else None)."""
        B, T, D = x.shape
        q, k, v = (
            part.view(B, T, self.heads, D // self.heads).transpose(1, 2) for part in self.qkv(x).split(D, dim=-1)
        )
        weights = None
        if need_weights or self.impl == "book":
            y, weights = book_attention(q, k, v, self.causal, self.dropout, self.training)
        else:
            y = fused_attention(q, k, v, self.causal, self.dropout, self.training)
        y = y.transpose(1, 2).reshape(B, T, D)  # heads side by side: [head_1, ..., head_H]
        return self.residual_dropout(self.out(y)), weights if need_weights else None
