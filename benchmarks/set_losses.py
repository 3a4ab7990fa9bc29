"""The three speed choices of the sets plugin, each measured against the plain form it replaced.

1. Hungarian with presence: the target's N - n padding slots are identical, so
   the matching is solved as an N x n assignment (``matching.hungarian_with_presence``)
   instead of the full N x N one over the padded sets. Both give the same value
   (checked here and in tests/test_sets.py).
2. Pairwise squared distances: ||a||^2 + ||b||^2 - 2 a.b (one matrix product,
   ``matching.pairwise``) against the [B, N, M, d] tensor of differences.
3. FSPool's sort along the last, contiguous axis ([B, D, N]) against a sort
   along the element axis of [B, N, D] (measured: no gain, see fspool.py).

Sizes are those of the MNIST pixel sets: N = 312 slots, about 100 points per
set, batches of 32 (for the distances, DSPN's 5 inner steps x 32 sets).
Each arm runs in the same process, interleaved over rounds, scored by its
fastest round; the ratios are printed, then one JSON line.

    OMP_NUM_THREADS=1 python benchmarks/set_losses.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from dpzoo.plugins.sets import matching


def fastest(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def hungarian_full(P, m, T, t):
    """The plain form: both sets padded to N slots with presence, then an N x N assignment per example."""
    return matching.hungarian(matching.with_presence(P, m), matching.with_presence(T * t[..., None], t))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(0)
    B, N, n = 32, 312, 100
    P, m = torch.rand(B, N, 2, generator=g), torch.rand(B, N, generator=g)
    T = torch.rand(B, N, 2, generator=g)
    t = torch.zeros(B, N)
    t[:, :n] = 1
    same = torch.allclose(matching.hungarian_with_presence(P, m, T, t), hungarian_full(P, m, T, t), atol=1e-5)
    results = {}

    arms = {
        "hungarian": (lambda: matching.hungarian_with_presence(P, m, T, t), lambda: hungarian_full(P, m, T, t)),
    }
    A, Bs = torch.rand(5 * B, N, 3, generator=g), torch.rand(5 * B, n, 3, generator=g)
    arms["pairwise"] = (lambda: matching.pairwise(A, Bs), lambda: (A.unsqueeze(2) - Bs.unsqueeze(1)).pow(2).sum(-1))
    h = torch.rand(B, N, 64, generator=g)
    arms["fspool_sort"] = (
        lambda: h.transpose(1, 2).contiguous().sort(dim=-1, descending=True),
        lambda: h.sort(dim=1, descending=True),
    )
    for name, (chosen, plain) in arms.items():
        chosen(), plain()  # warm up
        a, b = [], []
        for _ in range(args.rounds):
            a.append(fastest(chosen, 1))
            b.append(fastest(plain, 1))
        results[name] = {"chosen_s": min(a), "plain_s": min(b), "speedup": min(b) / min(a)}
        print(
            f"{name:12s} chosen {min(a) * 1e3:8.1f} ms   plain {min(b) * 1e3:8.1f} ms   plain/chosen {min(b) / min(a):5.2f}x"
        )
    print(f"hungarian forms agree: {same}")
    print(json.dumps({"threads": args.threads, "same_hungarian": bool(same), **results}))


if __name__ == "__main__":
    main()
