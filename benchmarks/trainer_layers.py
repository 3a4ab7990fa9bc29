"""Where the trainer's extra time per step goes, one layer at a time, in the training thread's own CPU time.

``trainer_overhead.py`` compares whole arms by wall-clock time, which this host's neighbours move by more
than the trainer's overhead. This splits the overhead of its MLP case (64-128-10 on the 8x8 digits, Adam,
batch 64, one thread) into layers: the trainer's loop around the hand-written step, then that step with one
piece of the trainer's own step at a time (each beside ``loop``, not on top of the others), then all of it:

* ``ideal``       - the hand-written loop (``trainer_overhead.ideal``)
* ``loop``        - ``dpzoo.Trainer`` with no run directory, its per-batch step replaced by the hand-written
  loop's body (``F.cross_entropy``, ``zero_grad``, ``backward``, ``step``): the trainer's loop alone (batch
  order, the batch dict, its per-step checks)
* ``loss``        - that body with dpzoo's loss object (``LossOutput``, the target lookup) instead
* ``stepper``     - that body with ``Stepper.optimise`` instead of the three optimiser calls
* ``pending``     - that body keeping each step's detached loss for the next training log, as the trainer does
* ``trainer``     - the trainer's own step, still no run directory
* ``logged``      - the trainer with a run directory: TensorBoard on its writer thread, the final checkpoint

Each arm is timed by ``time.thread_time()``, the CPU time of the training thread only: the time other
programs hold the core is left out (unlike wall-clock time), and so is the writer threads' work and the
time the training thread waits for the interpreter lock, which ``logged`` reports apart as wall minus
CPU. Arms alternate over rounds, each after an untimed ``gc.collect()``; every figure is the median over
rounds of the arm's extra microseconds per step over the ``ideal`` run of the same round (paired). On the
2-core machine of issue 16 a repeat of the whole run moved each layer by 3-5 us, so layers smaller than
that are not resolved here; ``step_instructions.py`` counts instructions instead, which repeat exactly.

    python benchmarks/trainer_layers.py [--steps 1000] [--rounds 16] [--warm-up STEPS]

The last line is one JSON object: each arm's median CPU us/step and its paired extra over ``ideal``.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import trainer_overhead as bench  # noqa: E402

import dpzoo  # noqa: E402
from dpzoo.trainer import TrainConfig, Trainer  # noqa: E402


def layer_step(layer: str, trainer: Trainer, model, optimiser):
    """The per-batch step of ``layer``: the hand-written loop's body with at most one piece of dpzoo's step."""

    def step(batch):
        if layer == "loss":
            loss = trainer.loss(model(batch), batch).total
        else:
            loss = F.cross_entropy(model(batch["x"]), batch["y"])
        if layer == "stepper":
            trainer.stepper.optimise("model", loss)
        else:
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
        if layer == "pending":
            trainer._pending_loss.append(loss.detach())

    return step


def trainer_arm(steps: int, digits, layer: str | None = None, run_dir: bool = False) -> tuple[float, float]:
    """(training thread CPU seconds, wall seconds) of one fit of ``steps`` steps."""
    model = bench.mlp()
    optimiser = torch.optim.Adam(model.parameters(), lr=bench.LR)
    config = TrainConfig(
        max_steps=steps,
        batch_size=bench.BATCH,
        seed=bench.SEED,
        device="cpu",
        progress=False,
        test=False,
        threads=1,
        validate_every=0,
        checkpoint_epochs=0,
    )
    with tempfile.TemporaryDirectory() as directory:
        trainer = Trainer(config, run_dir=directory if run_dir else None)
        if layer is not None:  # fit calls self._train_batch(batch) once per step
            if not callable(getattr(Trainer, "_train_batch", None)):  # else every layer would time the trainer's step
                raise RuntimeError("dpzoo's Trainer has no _train_batch to replace: update this benchmark")
            trainer._train_batch = layer_step(layer, trainer, model, optimiser)  # type: ignore[method-assign]
        cpu, wall = time.thread_time(), time.perf_counter()
        trainer.fit(model, digits, optimisers={"model": optimiser}, loss=dpzoo.create("loss", "cross_entropy"))
        return time.thread_time() - cpu, time.perf_counter() - wall


def ideal_arm(steps: int, digits) -> tuple[float, float]:
    cpu, wall = time.thread_time(), time.perf_counter()
    bench.ideal(bench.mlp, digits, steps)
    return time.thread_time() - cpu, time.perf_counter() - wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000, help="steps per run")
    parser.add_argument("--rounds", type=int, default=16)
    parser.add_argument("--warm-up", type=int, help="steps of each arm's untimed first run (default: steps / 10)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    digits = bench.train_only(bench.load_digits())
    arms = {
        "ideal": lambda n: ideal_arm(n, digits),
        "loop": lambda n: trainer_arm(n, digits, "loop"),
        "loss": lambda n: trainer_arm(n, digits, "loss"),
        "stepper": lambda n: trainer_arm(n, digits, "stepper"),
        "pending": lambda n: trainer_arm(n, digits, "pending"),
        "trainer": lambda n: trainer_arm(n, digits),
        "logged": lambda n: trainer_arm(n, digits, run_dir=True),
    }
    for arm in arms.values():  # warm-up: imports, the first TensorBoard writer
        arm(args.warm_up if args.warm_up is not None else max(10, args.steps // 10))
    cpu: dict[str, list[float]] = {name: [] for name in arms}
    wall: dict[str, list[float]] = {name: [] for name in arms}
    for round_ in range(args.rounds):
        order = list(arms) if round_ % 2 == 0 else list(arms)[::-1]
        for name in order:
            gc.collect()
            seconds_cpu, seconds_wall = arms[name](args.steps)
            cpu[name].append(1e6 * seconds_cpu / args.steps)
            wall[name].append(1e6 * seconds_wall / args.steps)
    report: dict[str, object] = {}
    for name in arms:
        median = statistics.median(cpu[name])
        extra = statistics.median(a - b for a, b in zip(cpu[name], cpu["ideal"]))
        report[f"{name}_cpu_us"] = round(median, 1)
        if name != "ideal":
            report[f"{name}_extra_us"] = round(extra, 1)
        print(f"{name:8s} {median:6.1f} us/step of training-thread CPU, {extra:+5.1f} over ideal (paired median)")
    waiting = statistics.median(w - c for w, c in zip(wall["logged"], cpu["logged"]))
    report["logged_waiting_us"] = round(waiting, 1)
    print(f"logged: the training thread not running (wall - CPU: the interpreter lock, the host) {waiting:.1f} us/step")
    report.update(steps=args.steps, rounds=args.rounds, torch=torch.__version__)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
