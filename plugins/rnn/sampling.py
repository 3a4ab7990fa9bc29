"""Sampling text from a character model (chapter 12).

Prime the state with a text, then repeat: turn the logits z of the next
character into the distribution

    q_i = exp(z_i / T) / sum_j exp(z_j / T)

at temperature T, draw a character from it, feed it back in. As T -> 0, q
tends to the one-hot of arg max z (greedy decoding, the maximum-likelihood
choice: dull and repetitive); T = 1 is the model's own distribution; as T
grows, q tends to uniform. Top-k keeps only the k largest logits (the rest get
probability 0) before the softmax. The unknown id is never drawn: it stands
for characters the model never saw, and has no character to print.

Before the prime, the model reads a newline (when it knows one), which is not
printed. A model trained on a stream carries its state from batch to batch, so
it has almost never started from the zero state; fed "ROMEO:" from h(0) = 0 it
produces a dozen characters of noise, fed "\nROMEO:" it starts the speech.
"""

from __future__ import annotations

import torch
from torch import Tensor

import dpzoo
from dpzoo.plugins.data.vocabulary import UNKNOWN


def check(temperature: float, top_k: int | None, length: int) -> None:
    """Errors that say what to pass instead."""
    if not temperature > 0:
        raise dpzoo.ConfigError(
            f"temperature must be > 0, got {temperature}; for (near-)greedy text use a small one such as 0.05, or --top-k 1"
        )
    if top_k is not None and top_k < 1:
        raise dpzoo.ConfigError(f"top-k must be at least 1 (1 is greedy), got {top_k}")
    if length < 1:
        raise dpzoo.ConfigError(f"length must be at least 1 character, got {length}")


def default_prime(vocabulary) -> str:
    """A newline (the start of a line) when the model knows it, else its first character."""
    return "\n" if "\n" in vocabulary.ids else vocabulary.chars[0]


def distribution(z: Tensor, temperature: float, top_k: int | None = None) -> Tensor:
    """q = softmax(z / T) over the last dimension, restricted to the ``top_k`` largest logits, never the unknown id."""
    check(temperature, top_k, 1)
    z = z.double().clone()
    z[..., UNKNOWN] = float("-inf")
    if top_k is not None and top_k < z.shape[-1] - 1:
        kth = z.topk(top_k, dim=-1).values[..., -1:]
        z = z.masked_fill(z < kth, float("-inf"))
    return torch.softmax(z / temperature, dim=-1)


@torch.no_grad()
def sample(
    model,
    prime: str,
    length: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
) -> str:
    """``prime`` followed by ``length`` characters drawn from ``model`` (a ``CharLanguageModel``)."""
    check(temperature, top_k, length)
    vocabulary = model.vocabulary
    if not prime:
        raise dpzoo.ConfigError("the prime must hold at least one character (the model needs an input to start from)")
    ids = torch.from_numpy(vocabulary.encode_strict(prime, "the prime"))
    if "\n" in vocabulary.ids and not prime.startswith("\n"):
        ids = torch.cat([torch.from_numpy(vocabulary.encode("\n")), ids])  # where every line of the corpus starts
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    try:
        logits, state = model.step(ids.to(device)[None], None)
        drawn = []
        for _ in range(length):
            q = distribution(logits[0, -1].cpu(), temperature, top_k)
            i = int(torch.multinomial(q, 1, generator=generator))
            drawn.append(i)
            logits, state = model.step(torch.tensor([[i]], device=device), state)
    finally:
        model.train(was_training)
    return prime + vocabulary.decode(drawn)
