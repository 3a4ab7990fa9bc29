"""An LSTM and a character GPT at the same parameter count and the same training time: bits per character against time.

Both arms train on tiny-shakespeare's training split through dpzoo's own
sequence batching (``trainer/sequences.py``), each as its zoo entry trains:

* ``lstm``: one LSTM layer (fused kernel, embedding 32), its hidden width
  chosen so its parameter count is the GPT's (to within one hidden unit);
  contiguous streams of ``--lstm-block`` characters with the state carried
  across batches (truncated BPTT), Adam, lr 3e-3;
* ``gpt``: ``--layers`` pre-norm decoder blocks of width ``--width``
  (``plugins/attention``, fused attention kernel, tied head); random windows
  of ``--gpt-block`` characters, AdamW (weight decay 0.1), lr 2e-3.

Both: batch 32, gradient norm clipped to 1, linear warm-up over the first 100
steps then a constant rate (a cosine needs the run's length in steps, which a
time budget does not fix in advance), one CPU thread, seed 0.

**Matched time.** Each arm gets ``--budget`` seconds of its own process CPU
time (``time.process_time``; on a machine shared with other jobs wall time
measures the neighbours as much as the model). The arms take turns of
``--turn`` CPU seconds, so both see the same machine load. At ``--points``
evenly spaced marks of its budget an arm is evaluated on the whole validation
split (the clock stops meanwhile): the LSTM walks it in 64 rows carrying its
state, the GPT reads it in windows of its block that overlap by
``--gpt-eval-overlap`` (``data.eval_overlap``), so that each character after a
row's first window is predicted from at least that many before it. At the end
both are evaluated on the test split too.

The table gives, at each mark, each arm's validation bits per character and
which is lower; the last line is one JSON object.

    python benchmarks/lstm_vs_attention.py                      # 2 x 60 CPU s, a few minutes
    python benchmarks/lstm_vs_attention.py --budget 600 --points 6
"""

from __future__ import annotations

import argparse
import json
import math
import time
import warnings

import torch
import torch.nn.functional as F

import dpzoo
from dpzoo.trainer import InMemorySplits
from dpzoo.trainer.sequences import Carry, set_aside

SEED, BATCH, CLIP, WARMUP, EVAL_ROWS = 0, 32, 1.0, 100, 64


def parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())


def build_gpt(vocabulary: str, width: int, layers: int, heads: int, block: int):
    torch.manual_seed(SEED)
    return dpzoo.create_model("gpt", vocabulary=vocabulary, width=width, layers=layers, heads=heads, context=block)


def build_lstm(vocabulary: str, target: int):
    """The one-layer LSTM whose parameter count is nearest ``target``."""

    def size(hidden):
        torch.manual_seed(SEED)
        return dpzoo.create_model("lstm", vocabulary=vocabulary, hidden=hidden, embedding=32)

    V, E = len(vocabulary) + 1, 32
    # 4H(E + H) + 8H (two bias vectors) + H V + V + V E = target: solve for H, then check the neighbours
    a, b, c = 4, 4 * E + 8 + V, V + V * E - target
    guess = int((-b + math.sqrt(b * b - 4 * a * c)) / (2 * a))
    return min((size(h) for h in (guess - 1, guess, guess + 1)), key=lambda m: abs(parameters(m) - target))


class Arm:
    """One model, its optimiser and batches, trained in turns against a CPU-time budget."""

    def __init__(self, name, model, optimiser, data, lr):
        self.name, self.model, self.optimiser, self.data, self.lr = name, model, optimiser, data, lr
        self.carry = Carry(model, data)
        self.steps, self.cpu, self.wall, self.epoch = 0, 0.0, 0.0, 0
        self.order = data.epoch_order(SEED, 0, BATCH)
        self.points: list[dict] = []

    def train_for(self, seconds: float) -> None:
        """Steps until ``seconds`` more CPU time is spent."""
        self.model.train()
        start_cpu, start_wall = time.process_time(), time.perf_counter()
        while time.process_time() - start_cpu < seconds:
            k = self.steps % len(self.order)
            if k == 0 and self.steps:
                self.epoch += 1
                self.order = self.data.epoch_order(SEED, self.epoch, BATCH)
            self.carry.before_batch(k)
            batch = self.data.gather("train", self.order[k])
            logits = self.model(batch)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch["y"].reshape(-1))
            for group in self.optimiser.param_groups:
                group["lr"] = self.lr * min(1.0, (self.steps + 1) / WARMUP)
            self.optimiser.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), CLIP)
            self.optimiser.step()
            self.steps += 1
        self.cpu += time.process_time() - start_cpu
        self.wall += time.perf_counter() - start_wall

    @torch.no_grad()
    def bits(self, split: str) -> float:
        metric = dpzoo.create("metric", "bits_per_char")
        metric.reset()
        self.model.eval()
        with set_aside(self.model):
            for batch in self.data.batches(split):
                metric.update(self.model(batch), batch)
        return metric.compute()

    def record(self) -> None:
        chars = self.steps * BATCH * self.data.spec.block
        self.points.append(
            {
                "cpu_s": round(self.cpu, 1),
                "wall_s": round(self.wall, 1),
                "steps": self.steps,
                "chars": chars,
                "validation_bpc": round(self.bits("validation"), 4),
            }
        )


def load(vocabulary_block: int):
    dataset = dpzoo.create("dataset", "shakespeare", block=vocabulary_block)
    return dataset.load(), dataset.info()["vocabulary"]


def splits(dataset_dict, batching: str, block: int, eval_chars: int, eval_overlap: int = 0):
    spec = {
        "batching": batching,
        "block": block,
        "column": "x",
        "target": "y",
        "eval_rows": EVAL_ROWS,
        "eval_overlap": eval_overlap,
    }
    data = InMemorySplits.from_dataset_dict(dataset_dict, ("x",), torch.device("cpu"), sequence=spec)
    data.splits["validation"] = {"x": data.stream("validation")[: eval_chars + 1]}  # + 1: the last one's target
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=60.0, help="CPU seconds of training per arm")
    parser.add_argument("--points", type=int, default=3, help="evaluations per arm, evenly spaced over its budget")
    parser.add_argument("--eval-chars", type=int, default=16384, help="validation characters scored at each mark")
    parser.add_argument(
        "--turn", type=float, default=5.0, help="CPU seconds each arm trains before the other takes its turn"
    )
    parser.add_argument("--width", type=int, default=128, help="GPT width D")
    parser.add_argument("--layers", type=int, default=4, help="GPT decoder blocks")
    parser.add_argument("--heads", type=int, default=4, help="GPT attention heads")
    parser.add_argument("--gpt-block", type=int, default=128, help="GPT window (and context) in characters")
    parser.add_argument(
        "--gpt-eval-overlap",
        type=int,
        default=None,
        help="characters each GPT evaluation window re-reads as context (default: half its block; 0: none)",
    )
    parser.add_argument("--lstm-block", type=int, default=64, help="LSTM truncated-BPTT length in characters")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")

    overlap = args.gpt_block // 2 if args.gpt_eval_overlap is None else args.gpt_eval_overlap
    dataset_dict, vocabulary = load(args.gpt_block)
    gpt = build_gpt(vocabulary, args.width, args.layers, args.heads, args.gpt_block)
    lstm = build_lstm(vocabulary, parameters(gpt))
    arms = [
        Arm(
            "lstm",
            lstm,
            torch.optim.Adam(lstm.parameters(), lr=3e-3),
            splits(dataset_dict, "stream", args.lstm_block, args.eval_chars),
            3e-3,
        ),
        Arm(
            "gpt",
            gpt,
            torch.optim.AdamW(gpt.parameters(), lr=2e-3, betas=(0.9, 0.99), weight_decay=0.1),
            splits(dataset_dict, "windows", args.gpt_block, args.eval_chars, overlap),
            2e-3,
        ),
    ]
    print(
        f"lstm: hidden {lstm.config.hidden}, {parameters(lstm):,} parameters; gpt: width {args.width}, "
        f"{args.layers} blocks, {args.heads} heads, {parameters(gpt):,} parameters; {args.budget:g} CPU s each",
        flush=True,
    )

    marks = [args.budget * (i + 1) / args.points for i in range(args.points)]
    for mark in marks:
        while any(arm.cpu < mark for arm in arms):
            for arm in arms:  # turns: the arm behind goes first, so neither runs far ahead of the other
                if arm.cpu < mark:
                    arm.train_for(min(args.turn, mark - arm.cpu))
        for arm in arms:
            arm.record()
            p = arm.points[-1]
            print(
                f"  {arm.name:4s} cpu {p['cpu_s']:7.1f} s  wall {p['wall_s']:7.1f} s  steps {p['steps']:6d}  "
                f"validation {p['validation_bpc']:.4f} bits/char",
                flush=True,
            )
    tests = {arm.name: round(arm.bits("test"), 4) for arm in arms}

    print(f"\nvalidation bits/char on its first {args.eval_chars:,} characters, after equal CPU seconds of training:")
    print("| CPU s | LSTM chars | LSTM val bpc | GPT chars | GPT val bpc | lower |")
    print("| ---: | ---: | ---: | ---: | ---: | --- |")
    for a, b in zip(arms[0].points, arms[1].points):
        lower = "LSTM" if a["validation_bpc"] < b["validation_bpc"] else "GPT"
        print(
            f"| {a['cpu_s']:.0f} | {a['chars']:,} | {a['validation_bpc']:.3f} | {b['chars']:,} | {b['validation_bpc']:.3f} | {lower} |"
        )
    print(
        f"test bits/char at the end: lstm {tests['lstm']:.3f}, gpt {tests['gpt']:.3f}; "
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); wall s include the neighbours' load"
    )
    print(
        json.dumps(
            {
                "budget_cpu_s": args.budget,
                "gpt_eval_overlap": overlap,
                "parameters": {arm.name: parameters(arm.model) for arm in arms},
                "points": {arm.name: arm.points for arm in arms},
                "test_bpc": tests,
                "chars_per_cpu_s": {arm.name: round(arm.points[-1]["chars"] / arm.cpu) for arm in arms},
            }
        )
    )


if __name__ == "__main__":
    main()
