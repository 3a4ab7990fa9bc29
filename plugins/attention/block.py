"""A pre-norm transformer decoder block (chapter 15).

    x <- x + Dropout(MultiHead(LayerNorm(x)))       causal self-attention
    x <- x + Dropout(MLP(LayerNorm(x)))             MLP(u) = W_2 GELU(W_1 u + b_1) + b_2

Layer norm before each sub-layer (GPT-2's order, not the original post-norm
x <- LayerNorm(x + f(x))) leaves the residual path an identity, so gradients
reach the early blocks unscaled and a stack trains without a long warm-up.
"""

from __future__ import annotations

from torch import Tensor, nn

from .multihead import MultiHeadSelfAttention


class DecoderBlock(nn.Module):
    def __init__(
        self,
        width: int,
        heads: int,
        mlp_ratio: int = 4,
        dropout: float = 0.0,
        impl: str = "fused",
        attention_dropout: float | None = None,
    ):
        super().__init__()
        self.norm1 = nn.LayerNorm(width)
        self.attention = MultiHeadSelfAttention(
            width, heads, dropout, causal=True, impl=impl, attention_dropout=attention_dropout
        )
        self.norm2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(
            nn.Linear(width, mlp_ratio * width), nn.GELU(), nn.Linear(mlp_ratio * width, width), nn.Dropout(dropout)
        )

    def forward(self, x: Tensor, need_weights: bool = False) -> tuple[Tensor, Tensor | None]:
        a, weights = self.attention(self.norm1(x), need_weights)
        x = x + a
        return x + self.mlp(self.norm2(x)), weights
