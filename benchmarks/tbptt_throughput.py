"""Characters per second of an LSTM language model: dpzoo's trainer against a hand-written TBPTT loop.

Both arms train the same model (``lstm``, fused kernel), from the same seed,
on the same batches: tiny-shakespeare's training split cut by dpzoo's stream
batching into ``--batch-size`` contiguous rows of ``--block`` characters. Each
step carries the state over from the previous batch, detached at the
boundary (truncated back-propagation through time), then takes the
cross-entropy of the next characters, backward, clips the gradient norm to 1
and takes an Adam step.

* ``hand``   - the loop written out: ``for starts in order: x, y = ...; h = h.detach(); ...``
* ``dpzoo``  - ``dpzoo.Trainer`` with the same steps (TensorBoard logging every 100 steps,
  no validation, no checkpoints)

Both are timed from the end of their first step to the end of their last, so
the rate is the steady state of the loop: the trainer's setup and its closing
evaluation of the validation split (a fixed cost per run) are left out.

Arms are interleaved over short rounds, in alternating order, and each is
scored by its fastest round (on a shared machine the slower rounds measure the
neighbours); medians are printed too. The last line is one JSON object: the
characters per second of each arm and ``dpzoo / hand``.

    python benchmarks/tbptt_throughput.py [--steps 40] [--rounds 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import warnings

import torch
import torch.nn.functional as F

import dpzoo
from dpzoo.trainer import InMemorySplits, TrainConfig, Trainer

SEED, LR, CLIP = 0, 3e-3, 1.0


def load(block: int):
    dataset = dpzoo.create("dataset", "shakespeare", block=block)
    dataset_dict = dataset.load()
    data = InMemorySplits.from_dataset_dict(
        dataset_dict, dataset.columns, torch.device("cpu"), sequence=dataset.sequence()
    )
    return data, dataset.info()["vocabulary"]


def make_model(vocabulary: str, hidden: int):
    torch.manual_seed(SEED)
    return dpzoo.create_model("lstm", vocabulary=vocabulary, hidden=hidden, embedding=32)


def arm_hand(data, vocabulary, hidden, batch_size, steps) -> float:
    model = make_model(vocabulary, hidden)
    optimiser = torch.optim.Adam(model.parameters(), lr=LR)
    order = data.epoch_order(SEED, 0, batch_size)[:steps]
    stream, T = data.stream("train"), data.spec.block
    offsets = torch.arange(T)
    state = None
    for k, starts in enumerate(order):
        if k == 1:
            start = time.perf_counter()  # after the first step, as the trainer arm
        index = starts[:, None] + offsets
        x, y = stream[index], stream[index + 1]
        if state is not None:
            state = tuple(s.detach() for s in state)  # truncate back-propagation at the batch boundary
        logits, state = model.step(x, state)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        optimiser.step()
    return (steps - 1) * batch_size * T / (time.perf_counter() - start)


def arm_dpzoo(data, vocabulary, hidden, batch_size, steps) -> float:
    model = make_model(vocabulary, hidden)
    optimiser = torch.optim.Adam(model.parameters(), lr=LR)
    options = dict(
        max_steps=steps,
        batch_size=batch_size,
        seed=SEED,
        device="cpu",
        progress=False,
        test=False,
        validate_every=0,
        checkpoint_epochs=0,
        grad_clip=CLIP,
        log_every=100,
        media_every=0,
    )
    times = {}

    def clock(trainer):  # called after every step: the rate excludes setup and the final evaluation
        times[trainer.step] = time.perf_counter()

    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(TrainConfig(**options), run_dir=run_dir, callbacks=[clock])
        trainer.fit(model, data, optimisers={"model": optimiser}, loss=dpzoo.create("loss", "cross_entropy"))
    return (steps - 1) * batch_size * data.spec.block / (times[steps] - times[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--block", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument(
        "--threads", type=int, help="torch CPU threads (default: torch's); 1 is steadier on a shared machine"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    data, vocabulary = load(args.block)
    arms = {"hand": arm_hand, "dpzoo": arm_dpzoo}
    for arm in arms.values():  # warm-up: first-use imports and allocations
        arm(data, vocabulary, args.hidden, args.batch_size, 3)
    rates: dict[str, list[float]] = {name: [] for name in arms}
    names = list(arms)
    for round_ in range(args.rounds):
        for name in names if round_ % 2 == 0 else names[::-1]:
            rates[name].append(arms[name](data, vocabulary, args.hidden, args.batch_size, args.steps))
        print(f"round {round_ + 1}: " + ", ".join(f"{n} {r[-1]:.0f} chars/s" for n, r in rates.items()), flush=True)
    best = {name: max(values) for name, values in rates.items()}
    print("median chars/s: " + ", ".join(f"{n} {statistics.median(v):.0f}" for n, v in rates.items()))
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, LSTM hidden {args.hidden}, "
        f"{args.batch_size} rows x {args.block} characters, {args.steps} steps x {args.rounds} rounds; fastest round per arm"
    )
    print(json.dumps({**{k: round(v) for k, v in best.items()}, "dpzoo_ratio": round(best["dpzoo"] / best["hand"], 3)}))


if __name__ == "__main__":
    main()
