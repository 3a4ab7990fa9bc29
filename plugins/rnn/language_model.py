"""Character-level language models (chapter 12): embedding, recurrent stack, linear head.

Given the characters x(1..t) the model predicts the next one. Each character
id is embedded, e(t) = E[x(t)]; a stack of recurrent layers (Elman, LSTM or
GRU, ``recurrence.py``) carries the state c(t) = g(e(t), c(t-1) | W); the head
gives the logits of the next character, y(t) = W_y h(t) + b_y, one per class
of the vocabulary (the known characters plus the reserved unknown id 0).
Training minimises the cross-entropy of y(t) against x(t + 1), i.e.
back-propagation through time over each batch's T steps.

State across batches: ``self.carry`` holds the state the last batch ended in
(``None`` = zeros). ``forward`` starts from it and stores the new one; the
trainer resets, detaches, sets aside and checkpoints it as the data's batching
requires (see dpzoo's ``trainer/sequences.py``). ``step(x, state)`` is the same
computation with an explicit state, for sampling.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import torch
from pydantic import Field
from torch import Tensor, nn

import dpzoo
from dpzoo.plugins.data.vocabulary import Vocabulary

from .recurrence import Cell, State, recurrence

MEDIA_TEMPERATURES = (0.5, 1.0, 1.5)
MEDIA_LENGTH = 300  # characters per logged sample


class LanguageModelConfig(dpzoo.Config):
    vocabulary: str | None = Field(
        None, description="The known characters in id order (ids 1..V; 0 is unknown); read from the data when unset"
    )
    embedding: int = Field(32, ge=1, description="Width of each character's embedding e(t)")
    hidden: int = Field(128, ge=1, description="Width of the hidden state h(t) of each layer")
    layers: int = Field(1, ge=1, description="Recurrent layers stacked (function composition in time)")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout on the outputs of every recurrent layer")
    impl: Literal["fused", "book"] = Field(
        "fused",
        description="fused: torch.nn.RNN/LSTM/GRU; book: the cells from the equations, step by step (same weights)",
    )


class CharLanguageModel(dpzoo.Model):
    """Logits [B, T, V + 1] of the next character at each position of ``batch["x"]`` [B, T]."""

    Config = LanguageModelConfig
    cell: ClassVar[Cell]
    default_loss = "cross_entropy"
    default_metrics = ("bits_per_char",)

    def __init__(self, config: LanguageModelConfig | None = None, **overrides):
        super().__init__(config, **overrides)
        c = self.config
        if not c.vocabulary:
            raise dpzoo.ConfigError(
                f"model {type(self).__name__} needs a vocabulary: train it on a text dataset (which supplies one) "
                "or set model.vocabulary to the characters it knows"
            )
        self.vocabulary = Vocabulary(c.vocabulary)
        V = len(self.vocabulary)
        self.embedding = nn.Embedding(V, c.embedding)
        self.rnn = recurrence(self.cell, c.impl, c.embedding, c.hidden, c.layers, c.dropout)
        self.drop = nn.Dropout(c.dropout)
        self.head = nn.Linear(c.hidden, V)
        self.carry: State | None = None

    def step(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """(logits [B, T, V + 1], final state) for ids ``x`` [B, T] starting from ``state``."""
        h, state = self.rnn(self.embedding(x), state)
        return self.head(self.drop(h)), state

    def forward(self, batch) -> Tensor:
        x = self.inputs(batch)
        carry = self.carry
        if carry is not None and (carry[0] if isinstance(carry, tuple) else carry).shape[1] != x.shape[0]:
            raise dpzoo.ConfigError(
                f"the carried state holds {(carry[0] if isinstance(carry, tuple) else carry).shape[1]} rows but the "
                f"batch has {x.shape[0]}: set model.carry = None before feeding batches of another size"
            )
        logits, self.carry = self.step(x, carry)
        return logits

    def log_media(self, ctx) -> None:
        log_samples(self, ctx)


class Elman(CharLanguageModel):
    """Elman (vanilla) RNN character model."""

    cell = "elman"


class LSTM(CharLanguageModel):
    """LSTM character model."""

    cell = "lstm"


class GRU(CharLanguageModel):
    """GRU character model."""

    cell = "gru"


def log_samples(model, ctx) -> dict[float, str]:
    """Text sampled at temperatures 0.5, 1.0 and 1.5, logged and returned by temperature (each from its own
    seeded generator: training's random stream is untouched); any model with ``step`` and ``vocabulary``."""
    from .sampling import default_prime, sample

    texts = {}
    for T in MEDIA_TEMPERATURES:
        generator = torch.Generator().manual_seed(0)
        text = sample(model, default_prime(model.vocabulary), MEDIA_LENGTH, temperature=T, generator=generator)
        ctx.log_text(f"samples/temperature_{T}", "\n".join("    " + line for line in text.split("\n")))  # preformatted
        texts[T] = text
    return texts
