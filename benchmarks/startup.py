"""How long from typing a command to dpzoo's answer, or to its first training step?

Each measurement is a fresh process, timed from before it is started (wall clock),
repeated ``--repeats`` times; the median is reported:

* ``import_torch``  - ``python -c "import torch"``: the floor of any PyTorch program
* ``hand_first_step`` - a hand-written program's first step: import torch, an MLP, Adam, one step
  (Adam's constructor imports ``torch._dynamo``, a cost every torch.optim user pays)
* ``data_loading``  - loading the digits through the data plugin, as ``dpzoo train`` does
  (importing ``datasets`` and the trainer, reading the digits, the splits as tensors), timed inside
  a process that has imported torch and dpzoo already
* ``first_step``    - ``dpzoo train --model mlp --data digits`` until its first training step ends
* ``version``, ``argument_error`` - ``dpzoo --version`` and ``dpzoo train --epochs x``

The ratio the issue sets a target for: ``first_step / (import_torch + data_loading)`` (at most 2).
The last line is one JSON object.

    python benchmarks/startup.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

# Run in the child: dpzoo's own command line, stopped (os._exit) as soon as the first training
# step has been taken; the hook patches the trainer when Python first imports it, so nothing is
# imported earlier than the command itself would.
FIRST_STEP = r"""
import importlib.abc, importlib.util, os, sys, time

class Hook(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != "dpzoo.trainer.loop":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        load = spec.loader.exec_module

        def exec_module(module):
            load(module)
            step = module.Trainer._train_batch

            def first(trainer, batch):
                step(trainer, batch)
                print(f"FIRST_STEP {time.time()!r}", flush=True)
                os._exit(0)

            module.Trainer._train_batch = first

        spec.loader.exec_module = exec_module
        return spec

sys.meta_path.insert(0, Hook())
from dpzoo.cli import main
sys.exit(main(sys.argv[1:]))
"""

HAND_FIRST_STEP = r"""
import time, torch
model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
optimiser = torch.optim.Adam(model.parameters())
loss = torch.nn.functional.cross_entropy(model(torch.rand(64, 1, 8, 8)), torch.randint(0, 10, (64,)))
loss.backward()
optimiser.step()
print(f"FIRST_STEP {time.time()!r}", flush=True)
"""

DATA_LOADING = r"""
import time, torch, dpzoo
start = time.perf_counter()
from dpzoo.trainer import InMemorySplits
dataset = dpzoo.create("dataset", "digits")
splits = InMemorySplits.from_dataset_dict(dataset.load(), tuple(dataset.columns), torch.device("cpu"), dataset.transform)
print(f"SECONDS {time.perf_counter() - start!r}", flush=True)
"""


def timed(argv: list[str], marker: str | None = None) -> float:
    """Seconds from starting ``argv`` to its exit, or to the time it printed after ``marker``."""
    start = time.time()
    done = subprocess.run(argv, capture_output=True, text=True, env=os.environ)
    end = time.time()
    if marker is None:
        return end - start
    for line in done.stdout.splitlines():
        if line.startswith(marker):
            value = float(line.split()[1])
            return value if marker == "SECONDS" else value - start
    raise RuntimeError(f"{argv[:3]}... printed no {marker}: {done.stdout[-500:]} {done.stderr[-2000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    python = sys.executable
    with tempfile.TemporaryDirectory() as logdir:
        train = ["train", "--model", "mlp", "--data", "digits", "--logdir", logdir]
        cases = {
            "import_torch": lambda: timed([python, "-c", "import torch"]),
            "hand_first_step": lambda: timed([python, "-c", HAND_FIRST_STEP], "FIRST_STEP"),
            "data_loading": lambda: timed([python, "-c", DATA_LOADING], "SECONDS"),
            "first_step": lambda: timed([python, "-c", FIRST_STEP, *train], "FIRST_STEP"),
            "version": lambda: timed([python, "-m", "dpzoo.cli", "--version"]),
            "argument_error": lambda: timed([python, "-m", "dpzoo.cli", "train", "--epochs", "x"]),
        }
        times: dict[str, list[float]] = {name: [] for name in cases}
        for repeat in range(args.repeats):
            for name, case in cases.items():
                times[name].append(case())
            print(f"repeat {repeat + 1}: " + ", ".join(f"{n} {t[-1]:.2f}s" for n, t in times.items()), flush=True)
    median = {name: statistics.median(values) for name, values in times.items()}
    report = {name: round(value, 3) for name, value in median.items()}
    report["first_step_ratio"] = round(median["first_step"] / (median["import_torch"] + median["data_loading"]), 3)
    report["first_step_over_import_torch"] = round(median["first_step"] / median["import_torch"], 3)
    report["first_step_over_hand_written"] = round(median["first_step"] / median["hand_first_step"], 3)
    report["repeats"] = args.repeats
    print("median seconds; first_step_ratio = first_step / (import_torch + data_loading), target <= 2")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
