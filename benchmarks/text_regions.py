"""Where in tiny-shakespeare's held-out text do character models lose their bits?

The data plugin splits tiny-shakespeare in order, 90% / 5% / 5%. Validation is
the middle of *The Taming of the Shrew*, whose first acts are in the training
text; test is the Shrew's last lines followed by the opening of *The Tempest*,
a play the training text never reaches (its speakers, Prospero, Miranda,
Ariel, appear nowhere before). This scores each model on every held-out
character and reports the mean bits per character over:

* ``validation`` and ``test``: the data plugin's splits;
* ``shrew_end`` and ``tempest``: the test split cut where *The Tempest* starts;
* ``last_10pct``: validation and test together, the held-out split nanoGPT's
  character-level Shakespeare reports (its GPU model: about 1.47 nats = 2.12
  bits per character).

Every character is scored with the text before it as context, including the
training text before the validation split, so the figures are a little below
the cards' (whose splits start from no context): a recurrent model carries its
state through the whole stretch; an attention model reads windows of its
context that overlap by half, so each character sees at least half a context.

    python benchmarks/text_regions.py gpt.shakespeare lstm.shakespeare [runs/some-run ...]
"""

from __future__ import annotations

import argparse
import json
import math

import numpy as np
import torch

from dpzoo.plugins.data.shakespeare import TinyShakespeare

TEMPEST = "\n\nMaster:\nBoatswain!"  # The Tempest's first lines; the Shrew's last line comes just before


def load(name: str):
    """A zoo entry by name, or a run directory (``dpzoo sample``'s rules)."""
    from dpzoo.plugins.rnn.command import load as load_model

    model = load_model(name)
    model.eval()
    return model


def target_bits(logits: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """Bits the logits [T, V + 1] give each target id of ``y`` [T]."""
    return -torch.log_softmax(logits, -1)[torch.arange(len(y)), y].numpy() / math.log(2)


@torch.no_grad()
def bits_by_window(model, ids: torch.Tensor, start: int) -> np.ndarray:
    """Bits of each character after ``start``, from windows of the model's context overlapping by half."""
    T = model.config.context
    stride = T // 2
    bits = np.full(len(ids), np.nan)
    for pos in range(start - stride - 1, len(ids) - 1, stride):  # the first kept target is ``start``
        x = ids[pos : pos + T]
        y = ids[pos + 1 : pos + 1 + T]
        x = x[: len(y)]
        window = target_bits(model.logits(x[None])[0][0], y)
        # targets j >= stride (context of j + 1 >= stride + 1 characters); the window before scored the rest
        bits[pos + 1 + stride : pos + 1 + len(y)] = window[stride:]
    return bits


@torch.no_grad()
def bits_by_state(model, ids: torch.Tensor, start: int, warm_up: int = 4096, chunk: int = 512) -> np.ndarray:
    """Bits of each character after ``start``, carrying the model's state from ``warm_up`` characters before."""
    bits = np.full(len(ids), np.nan)
    state = None
    for pos in range(start - warm_up, len(ids) - 1, chunk):
        x = ids[pos : min(pos + chunk, len(ids) - 1)]
        y = ids[pos + 1 : pos + 1 + len(x)]
        logits, state = model.step(x[None], state)
        bits[pos + 1 : pos + 1 + len(y)] = target_bits(logits[0], y)
    bits[:start] = np.nan
    return bits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="zoo entries or run directories of character models")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    splits = TinyShakespeare().texts()
    text = splits["train"] + splits["validation"] + splits["test"]
    v0 = len(splits["train"])
    t0 = v0 + len(splits["validation"])
    tempest = text.find(TEMPEST, t0) + 2
    if tempest < t0 + 2:
        raise SystemExit("The Tempest's first lines are not in the test split: is this tiny-shakespeare?")
    regions = {
        "validation": (v0, t0),
        "test": (t0, len(text)),
        "shrew_end": (t0, tempest),
        "tempest": (tempest, len(text)),
        "last_10pct": (v0, len(text)),
    }
    print("characters: " + ", ".join(f"{name} {b - a:,}" for name, (a, b) in regions.items()))
    report = {}
    for name in args.models:
        model = load(name)
        ids = torch.from_numpy(model.vocabulary.encode(text)).long()
        windowed = hasattr(model, "logits") and hasattr(model.config, "context")
        bits = bits_by_window(model, ids, v0) if windowed else bits_by_state(model, ids, v0)
        if np.isnan(bits[v0:]).any():
            raise RuntimeError(f"{name}: some held-out characters were not scored")
        report[name] = {region: round(float(np.mean(bits[a:b])), 3) for region, (a, b) in regions.items()}
        print(f"{name}: " + ", ".join(f"{region} {value:.3f}" for region, value in report[name].items()), flush=True)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
