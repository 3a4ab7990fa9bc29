"""The trainer's cost per step in instructions executed, which the host's noise cannot move.

``trainer_overhead.py`` times the trainer against a hand-written loop, but on a shared machine the same
loop's speed moves by tens of percent from one run to the next, more than the trainer's whole overhead.
This counts instead. Each arm of ``trainer_overhead.py``'s MLP case (``ideal``: the hand-written loop;
``dpzoo``: the trainer, TensorBoard logging every 50 steps and a checkpoint at the end) runs in its own
process under Valgrind's callgrind, once for ``--short`` steps and once for ``--long``; the difference of
the two counts, divided by the difference of the steps, is that arm's instructions per training step,
start-up, imports and each run's one-off work cancelling out.

What the counted runs leave out, and why: cyclic garbage collection (see ``child``; reference counting
still frees each step's objects, as in a normal run, but whether one of the collector's full walks falls
inside a run depends on the whole process); the trainer's checkpoints by time (``checkpoint_seconds``
off: whether one falls inside a run depends on how slowly Valgrind runs it; the checkpoint at the end
stays); and every thread but the training thread (callgrind ``--separate-threads``): Valgrind runs a
program's threads one at a time, so an idle pool that polls (NumPy's OpenBLAS) executes in proportion to
the run's length, and the trainer's own writer threads work per log and per checkpoint, not per step.

    python benchmarks/step_instructions.py [--short 10] [--long 310]

Needs ``valgrind`` on the PATH (Debian: ``apt install valgrind``); each process takes about two minutes
(importing torch under Valgrind is most of it), two at a time. Instructions are not time: on the 2-core
machine of issue 16 the trainer's share of the time was about three times its share of the instructions
(Python's lookups and calls against the model's vectorised kernels). The counts move far less than timings,
but they do move: two runs one day gave the loop's per-step count 6 instructions apart in 2.1 million (dpzoo's
443), yet over five runs on two days the loop's ranged from 2,102,018 to 2,110,059 (0.4%) and dpzoo's extra from
49,660 to 60,306. So a change in the trainer's per-step work shows here once it is well above ~0.5% of the step
(about 10,000 instructions), where the timings cannot see one of 5%. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import gc
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ARMS = ("ideal", "dpzoo")


def child(arm: str, steps: int) -> None:
    """Run one arm of trainer_overhead.py's MLP case for ``steps`` steps on one thread (under callgrind)."""
    import torch

    sys.path.insert(0, str(HERE))
    import trainer_overhead as bench

    torch.set_num_threads(1)
    digits = bench.load_digits()
    # no cyclic garbage collection while counting: whether a full collection (which walks every object torch's
    # imports made, hundreds of millions of instructions) falls inside a run depends on what was imported and
    # allocated before it, not on the loop; with it on, the ideal loop's count moved by 5% between two runs
    gc.collect()
    gc.disable()
    if arm == "ideal":
        bench.ideal(bench.mlp, digits, steps)
    else:
        bench.dpzoo_arm(bench.mlp, bench.train_only(digits), steps, checkpoint_seconds=None)


def main_thread_instructions(arm: str, steps: int, workdir: Path) -> int:
    """Instructions the process's first thread executed running ``arm`` for ``steps`` steps."""
    out = workdir / f"callgrind.{arm}.{steps}"
    subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--separate-threads=yes",
            f"--callgrind-out-file={out}",
            sys.executable,
            __file__,
            "--child",
            arm,
            str(steps),
        ],
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},  # the same dict and set layouts in every run
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    first = min(workdir.glob(f"{out.name}-*"), key=lambda p: int(p.name.rsplit("-", 1)[1]))  # thread 1's file
    match = re.search(r"^summary:\s+(\d+)", first.read_text(), re.MULTILINE)
    if match is None:
        raise RuntimeError(f"no 'summary:' line in {first}: callgrind's output format changed?")
    return int(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", type=int, default=10, help="steps of the short run")
    parser.add_argument("--long", type=int, default=310, help="steps of the long run")
    parser.add_argument("--jobs", type=int, default=2, help="callgrind processes at a time")
    parser.add_argument("--child", nargs=2, metavar=("ARM", "STEPS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
        return
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not on the PATH (Debian: apt install valgrind); this benchmark counts with callgrind")
    if args.long <= args.short:
        sys.exit("--long must be more steps than --short")
    runs = [(arm, steps) for arm in ARMS for steps in (args.short, args.long)]
    with tempfile.TemporaryDirectory() as tmp, concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        counts = dict(zip(runs, pool.map(lambda run: main_thread_instructions(*run, Path(tmp)), runs)))
    per_step = {arm: (counts[arm, args.long] - counts[arm, args.short]) / (args.long - args.short) for arm in ARMS}
    report = {
        "ideal_instructions_per_step": round(per_step["ideal"]),
        "dpzoo_instructions_per_step": round(per_step["dpzoo"]),
        "dpzoo_extra_per_step": round(per_step["dpzoo"] - per_step["ideal"]),
        "dpzoo_instruction_ratio": round(per_step["ideal"] / per_step["dpzoo"], 4),
        # the short runs' difference: imports the arm adds, the trainer's set-up and the end of its run
        "dpzoo_extra_fixed": counts["dpzoo", args.short]
        - counts["ideal", args.short]
        - args.short * round(per_step["dpzoo"] - per_step["ideal"]),
        "short": args.short,
        "long": args.long,
    }
    print(
        f"training thread, instructions per step: ideal {report['ideal_instructions_per_step']:,}, "
        f"dpzoo {report['dpzoo_instructions_per_step']:,} (+{report['dpzoo_extra_per_step']:,}; "
        f"ideal/dpzoo {report['dpzoo_instruction_ratio']})"
    )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
