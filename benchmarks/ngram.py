"""Character n-gram baselines for the character language models: test bits per character per order.

Interpolated Kneser-Ney (Chen and Goodman, 1998), orders 1 to 6, on exactly
the splits and vocabulary the recurrent models see (the data plugin's text
sets: known characters from the training split, one id for any other). For a
context h of n - 1 characters and the next character w,

    p_n(w | h) = max(c(h w) - D_n, 0) / c(h .)  +  D_n N1+(h .) / c(h .) * p_{n-1}(w | h')

where h' drops h's first character, c counts n-grams in the training split
(at the highest order) or, at lower orders, counts the distinct characters
that precede them ("continuation counts"), N1+(h .) is the number of distinct
characters seen after h, and p_0 is uniform over the V + 1 classes. A context
never seen falls back to p_{n-1} entirely. Each order's discount is
D_n = n1 / (n1 + 2 n2) (n1, n2: the n-grams counted once and twice), the
usual estimate. Every test character is scored once, from the start of the
split, with as much context as the split has so far (the recurrent models
also start each split from an empty state).

    python benchmarks/ngram.py --data shakespeare            # $DPZOO_DATA_DIR must hold tinyshakespeare/
    python benchmarks/ngram.py --data pysrc --orders 1 2 3 4 5 6
"""

from __future__ import annotations

import argparse
import math
import time
from collections import Counter, defaultdict

from dpzoo.components import create
from dpzoo.tables import to_arrays


def load_texts(name: str, **options) -> tuple[dict[str, list[int]], int]:
    """Each split as a list of class ids (0 = unknown), and the number of classes V + 1."""
    dataset = create("dataset", name, **options)
    splits = dataset.load()
    ids = {split: to_arrays(splits[split], ["x"])["x"].tolist() for split in ("train", "validation", "test")}
    return ids, len(dataset.vocabulary)


class KneserNey:
    """Interpolated Kneser-Ney of order ``n`` over integer symbols 0..classes-1.

    n-grams are kept as strings of ``chr(id)``: short strings hash and store more cheaply than tuples of ints.
    """

    def __init__(self, train: list[int], order: int, classes: int):
        self.order, self.classes = order, classes
        seq = "".join(map(chr, train))
        # raw counts of every k-gram, k = 1..order
        raw = [Counter()] + [Counter(seq[i : i + k] for i in range(len(seq) - k + 1)) for k in range(1, order + 1)]
        # continuation counts of k-grams (k < order): distinct characters seen before them
        cont = [Counter() for _ in range(order + 1)]
        for k in range(1, order):
            for gram in raw[k + 1]:
                cont[k][gram[1:]] += 1
        self.counts = [raw[k] if k == order else cont[k] for k in range(order + 1)]
        # per context: total count and distinct followers, at each order
        self.context_total = [defaultdict(int) for _ in range(order + 1)]
        self.context_types = [defaultdict(int) for _ in range(order + 1)]
        for k in range(1, order + 1):
            for gram, c in self.counts[k].items():
                self.context_total[k][gram[:-1]] += c
                self.context_types[k][gram[:-1]] += 1
        self.discount = [0.0] + [self._discount(self.counts[k]) for k in range(1, order + 1)]

    @staticmethod
    def _discount(counts: Counter) -> float:
        n1 = sum(1 for c in counts.values() if c == 1)
        n2 = sum(1 for c in counts.values() if c == 2)
        return n1 / (n1 + 2 * n2) if n1 + n2 else 0.5

    def probability(self, context: tuple[int, ...] | str, w: int | str) -> float:
        """p(w | the last order - 1 symbols of context)."""
        if not isinstance(context, str):
            context, w = "".join(map(chr, context)), chr(w)
        p = 1.0 / self.classes  # p_0: uniform
        for k in range(1, self.order + 1):  # from the unigram up to the full context
            if len(context) < k - 1:
                break
            h = context[len(context) - (k - 1) :] if k > 1 else ""
            total = self.context_total[k].get(h, 0)
            if total == 0:
                continue  # unseen context: keep the lower order's estimate
            D = self.discount[k]
            c = self.counts[k].get(h + w, 0)
            p = max(c - D, 0.0) / total + D * self.context_types[k][h] / total * p
        return p

    def bits_per_char(self, text: list[int]) -> float:
        bits, text = 0.0, "".join(map(chr, text))
        for t in range(1, len(text)):  # every character after the first is predicted once
            bits -= math.log2(self.probability(text[max(0, t - self.order + 1) : t], text[t]))
        return bits / (len(text) - 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="shakespeare", help="a text dataset: shakespeare, pysrc, text (with --path)")
    parser.add_argument("--path", help="data.path for the 'text' dataset")
    parser.add_argument("--orders", type=int, nargs="+", default=[1, 2, 3, 4, 5, 6])
    args = parser.parse_args()
    options = {"path": args.path} if args.path else {}
    splits, classes = load_texts(args.data, **options)
    print(
        f"{args.data}: {len(splits['train'])} / {len(splits['validation'])} / {len(splits['test'])} characters, {classes} classes"
    )
    print("order  validation bits/char  test bits/char  seconds")
    best = None
    for n in args.orders:
        started = time.perf_counter()
        model = KneserNey(splits["train"], n, classes)
        validation, test = model.bits_per_char(splits["validation"]), model.bits_per_char(splits["test"])
        print(f"{n:5d}  {validation:20.4f}  {test:14.4f}  {time.perf_counter() - started:7.1f}", flush=True)
        if best is None or validation < best[1]:
            best = (n, validation, test)
    print(f"best order by validation: {best[0]} (test {best[2]:.4f} bits/char)")


if __name__ == "__main__":
    main()
