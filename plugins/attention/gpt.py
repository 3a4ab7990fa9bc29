"""A character GPT (chapter 15): a decoder-only transformer predicting the next character.

Given ids x(1..T) the model embeds each one and adds its position,
h_0(t) = E[x(t)] + P[t] (``positions.py``), passes the sequence through L
pre-norm decoder blocks of causal multi-head self-attention (``block.py``),
normalises, and maps each position to the logits of the next character,
y(t) = W_y LayerNorm(h_L(t)). With ``tie`` the head is the embedding itself,
W_y = E (Press & Wolf, 2017): one table both reads and writes characters, and
the model has V x D fewer parameters. Training minimises the cross-entropy of
y(t) against x(t + 1); the causal mask means y(t) depends on x(1..t) alone.

Unlike the recurrent models (``plugins/rnn``), the model carries no state
from one batch to the next: it is trained on random windows of the stream
(``--set data.batching=windows``) and sees at most ``context`` characters.
Evaluation walks each split in consecutive windows of ``data.block``
characters, each read afresh, so the character at offset i of a window is
predicted from i characters of context (as nanoGPT's evaluation does).

Sampling goes through the recurrent topic's ``sampling.sample`` and ``dpzoo
sample``: ``step(x, state)`` takes the context so far as its "state" and
returns it extended by ``x`` (cut to the last ``context`` characters).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

import dpzoo
from dpzoo.plugins.data.vocabulary import Vocabulary

from .block import DecoderBlock
from .positions import Positions


class GPTConfig(dpzoo.Config):
    vocabulary: str | None = Field(
        None, description="The known characters in id order (ids 1..V; 0 is unknown); read from the data when unset"
    )
    context: int = Field(
        64, ge=1, description="Longest input in characters (rows of the learned position table); >= data.block"
    )
    width: int = Field(64, ge=1, description="Model width D: embedding, attention and residual stream")
    heads: int = Field(
        4, ge=1, description="Attention heads H per block; each has width D / H, so D must be divisible by H"
    )
    layers: int = Field(2, ge=1, description="Decoder blocks L stacked")
    mlp_ratio: int = Field(4, ge=1, description="Hidden width of each block's MLP, as a multiple of D")
    dropout: float = Field(
        0.0, ge=0.0, lt=1.0, description="Dropout on embeddings, attention weights and each residual branch"
    )
    attention_dropout: float | None = Field(
        None,
        ge=0.0,
        lt=1.0,
        description="Dropout on the attention weights alone (null: model.dropout). On the CPU, any above 0 sends "
        "the fused kernel to its unfused fallback: the zoo's GPT's bare step took 188 ms at 0 against 275 ms at 0.1",
    )
    positions: Literal["learned", "sinusoidal"] = Field(
        "learned", description="learned: a trained table P; sinusoidal: Vaswani et al.'s fixed sines and cosines"
    )
    tie: bool = Field(True, description="Use the character embedding E as the output head (W_y = E)")
    impl: Literal["fused", "book"] = Field(
        "fused",
        description="fused: torch's scaled_dot_product_attention; book: softmax(QK^T/sqrt(d))V written out (same weights)",
    )


class GPT(dpzoo.Model):
    """Logits [B, T, V + 1] of the next character at each position of ``batch["x"]`` [B, T]."""

    Config = GPTConfig
    default_loss = "cross_entropy"
    default_metrics = ("bits_per_char",)

    def __init__(self, config: GPTConfig | None = None, **overrides):
        super().__init__(config, **overrides)
        c = self.config
        if not c.vocabulary:
            raise dpzoo.ConfigError(
                "model GPT needs a vocabulary: train it on a text dataset (which supplies one) "
                "or set model.vocabulary to the characters it knows"
            )
        if c.width % c.heads:
            divisors = [h for h in range(1, c.width + 1) if c.width % h == 0]
            near = min(divisors, key=lambda h: abs(h - c.heads))
            raise dpzoo.ConfigError(
                f"model.width={c.width} is not divisible by model.heads={c.heads} (each head has width D / H): "
                f"set model.heads={near}, or a model.width that is a multiple of {c.heads}"
            )
        self.vocabulary = Vocabulary(c.vocabulary)
        V, D = len(self.vocabulary), c.width
        self.embedding = nn.Embedding(V, D)
        self.positions = Positions(c.positions, c.context, D)
        self.drop = nn.Dropout(c.dropout)
        self.blocks = nn.ModuleList(
            DecoderBlock(D, c.heads, c.mlp_ratio, c.dropout, c.impl, attention_dropout=c.attention_dropout)
            for _ in range(c.layers)
        )
        self.norm = nn.LayerNorm(D)
        self.head = None if c.tie else nn.Linear(D, V, bias=False)
        self._initialise()

    def _initialise(self) -> None:
        """GPT-2's initialisation: N(0, 0.02) weights, zero biases, and the projections that write into the
        residual stream scaled by 1 / sqrt(2L), so the stream's variance does not grow with depth."""
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
        for block in self.blocks:
            for layer in (block.attention.out, block.mlp[2]):
                nn.init.normal_(layer.weight, std=0.02 / (2 * len(self.blocks)) ** 0.5)

    def logits(self, x: Tensor, need_weights: bool = False) -> tuple[Tensor, list[Tensor]]:
        """(logits [B, T, V + 1], per-block attention weights [B, H, T, T] when ``need_weights``) for ids ``x``."""
        T = x.shape[1]
        if T > self.config.context and self.config.positions == "learned":
            raise dpzoo.ConfigError(
                f"input of {T} characters, but model.context is {self.config.context} (the learned position table's rows): "
                f"set data.block <= {self.config.context}, or a larger model.context"
            )
        h = self.drop(self.embedding(x) + self.positions(T))
        maps = []
        for block in self.blocks:
            h, weights = block(h, need_weights)
            maps.append(weights)
        h = self.norm(h)
        head = self.embedding.weight if self.head is None else self.head.weight
        return F.linear(h, head), maps if need_weights else []

    def forward(self, batch) -> Tensor:
        return self.logits(self.inputs(batch))[0]

    def step(self, x: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Logits for the new ids ``x`` [B, T] after the context ``state`` [B, S] (or none), and the context
        extended by ``x``, kept to its last ``context`` characters: the interface of the recurrent models."""
        ids = x if state is None else torch.cat([state, x], dim=1)
        ids = ids[:, -self.config.context :]
        logits, _ = self.logits(ids)
        return logits[:, -min(x.shape[1], ids.shape[1]) :], ids

    @torch.no_grad()
    def attention_maps(self, x: Tensor) -> list[Tensor]:
        """The attention weights A [B, H, T, T] of every block for ids ``x``, in evaluation mode."""
        was_training = self.training
        self.eval()
        try:
            return self.logits(x[:, -self.config.context :], need_weights=True)[1]
        finally:
            self.train(was_training)

    def log_media(self, ctx) -> None:
        from dpzoo.plugins.rnn.language_model import log_samples

        from .media import log_attention_maps

        texts = log_samples(self, ctx)
        log_attention_maps(self, ctx, texts[1.0])
