"""How much does dpzoo's trainer cost over a hand-written loop?

Two cases, each trained for the same number of steps by every arm, in one process.

MLP (64-128-10) on the bundled 8x8 digits (training split), Adam, batch 64:

* ``ideal``      - a hand-written loop over pre-shuffled index batches of in-memory tensors
* ``dataloader`` - a hand-written loop over ``DataLoader(TensorDataset(...), shuffle=True)``
* ``dpzoo``      - ``dpzoo.Trainer`` with TensorBoard logging at its default interval (every 40 steps in a
  1,000-step round, 50 in longer ones), on the training split alone
  (so no validation, not even the final one), and its checkpoint at the end
* ``dpzoo_full`` - the same with the trainer's defaults: validation after every epoch, checkpoints by time
  (``trainer.checkpoint_seconds``) and at the end; its time is split into training, validation and checkpoints
* ``lightning``  - ``lightning.Trainer`` with logging and checkpoints off (if installed)

LeNet (dpzoo's ``cnn``: conv 32, conv 64, 128 hidden) on MNIST-shaped input (random 28x28 images,
10 classes), where the model's arithmetic dominates: ``lenet_ideal`` and ``lenet_dpzoo`` (a 64-image
validation split for the model's end-of-run media: its filters and confusion matrix).

``--compile`` adds ``dpzoo_compiled`` and ``lenet_compiled``: the model compiled in place
(``nn.Module.compile``, TorchInductor), once, before the rounds, so that the rounds time the compiled
model and the first call's time (the compiler's) is printed apart. On the 2-core CPU of issue 16 both
compiled arms were slower than the eager ones, so the trainer has no ``compile`` option; rerun this
where it may pay (a GPU) before adding one.

Arms are interleaved over many short rounds, in alternating order, each after an untimed
``gc.collect()``, and each arm runs between two runs of its own case's ideal loop: its ratio in a round
is to the mean of those two (the machine's speed drifts over seconds: a ratio to an ideal run a few arms
away caught that drift as much as the trainer). Ratios are reported as the median over rounds
(``*_ratio_median``, with a 95% bootstrap interval, ``*_ratio_median_95``: how far the median of that
many rounds could move on a machine as disturbed as this run's) and for the fastest round of each arm
(``*_ratio``: as ``timeit`` takes the fastest repeat, the round least disturbed by the rest of the
machine), and as the median of the same ratios in the process's CPU time (``*_cpu_ratio_median``: every
thread's work, the trainer's writer threads included, but not the time the process waited for a core
another program held, nor for the disk; the wall-clock ratios are the ones a user feels). The last line
is one JSON object: every arm's steps/s (fastest round and median), its ratios, the ``dpzoo_full``
split, the fixed cost of a dpzoo run (``dpzoo_fixed_ms``: a one-step fit, mostly the fsyncs of its final
checkpoint), torch's thread count and the rounds.

    python benchmarks/trainer_overhead.py [--steps 1000] [--lenet-steps 150] [--rounds 15] [--threads N] [--compile]
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import tempfile
import time
import warnings

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

import dpzoo
from dpzoo.trainer import InMemorySplits, TrainConfig, Trainer

BATCH, LR, SEED = 64, 1e-3, 0
LENET_EXAMPLES = 2048  # random 28x28 images: 32 steps an epoch at batch 64


def clock() -> tuple[float, float]:
    """(wall seconds, CPU seconds of the whole process: every thread, the trainer's writers included)."""
    return time.perf_counter(), time.process_time()


def median_interval(values: list[float], confidence: float = 0.95, resamples: int = 2000) -> list[float]:
    """A bootstrap percentile interval for the median of ``values`` (resampled with a fixed seed).

    Rounds disturbed by the rest of the machine scatter the per-round ratios; the interval says how far
    the median of that many rounds could move in a run like this one, so a target can be read as met,
    missed or not settled by the run.
    """
    draw = random.Random(SEED)
    medians = sorted(statistics.median(draw.choices(values, k=len(values))) for _ in range(resamples))
    tail = (1 - confidence) / 2
    return [round(medians[int(tail * resamples)], 3), round(medians[int((1 - tail) * resamples) - 1], 3)]


def steps_per_second(steps: int, start: tuple[float, float]) -> tuple[float, float]:
    """Steps per wall second and per CPU second since ``start``."""
    wall, cpu = clock()
    return steps / (wall - start[0]), steps / max(cpu - start[1], 1e-9)


def load_digits():
    dataset = dpzoo.create("dataset", "digits")
    dd = dataset.load()
    return InMemorySplits.from_dataset_dict(dd, ("x", "y"), torch.device("cpu"), dataset.transform)


def mnist_shaped():
    generator = torch.Generator().manual_seed(SEED)

    def split(n):
        return {
            "x": torch.rand(n, 1, 28, 28, generator=generator),
            "y": torch.randint(0, 10, (n,), generator=generator),
        }

    return InMemorySplits({"train": split(LENET_EXAMPLES), "validation": split(64)})


def train_only(splits):
    return InMemorySplits({"train": splits.splits["train"]}, splits.transform)


def mlp():
    torch.manual_seed(SEED)
    return dpzoo.create_model("mlp", input_shape=[1, 8, 8], num_classes=10, hidden=[128])


def lenet():
    torch.manual_seed(SEED)
    return dpzoo.create_model("cnn", input_shape=[1, 28, 28], num_classes=10)


def ideal(make_model, splits, steps):
    model = make_model()
    model.train()
    optimiser = torch.optim.Adam(model.parameters(), lr=LR)
    x, y = splits.splits["train"]["x"], splits.splits["train"]["y"]
    generator = torch.Generator().manual_seed(SEED)
    done, start = 0, clock()
    while done < steps:
        for index in torch.randperm(len(x), generator=generator).split(BATCH):
            loss = F.cross_entropy(model(x[index]), y[index])
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            done += 1
            if done == steps:
                break
    return steps_per_second(steps, start)


def arm_dataloader(splits, steps):
    model = mlp()
    optimiser = torch.optim.Adam(model.parameters(), lr=LR)
    x, y = splits.splits["train"]["x"], splits.splits["train"]["y"]
    loader = DataLoader(
        TensorDataset(x, y), batch_size=BATCH, shuffle=True, generator=torch.Generator().manual_seed(SEED)
    )
    done, start = 0, clock()
    while done < steps:
        for xb, yb in loader:
            loss = F.cross_entropy(model(xb), yb)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            done += 1
            if done == steps:
                break
    return steps_per_second(steps, start)


class Split:
    """Seconds a ``dpzoo_full`` run spends in validation and in checkpoints (on the training thread)."""

    def __init__(self):
        self.validation = self.checkpoints = self.writing = 0.0

    def watch(self, trainer: Trainer) -> None:
        evaluate, save, close = trainer.evaluate, trainer.save_checkpoint, trainer._close_writers

        def timed(fn, field):
            def wrapper(*args, **kwargs):
                start = time.perf_counter()
                try:
                    return fn(*args, **kwargs)
                finally:
                    setattr(self, field, getattr(self, field) + time.perf_counter() - start)

            return wrapper

        trainer.evaluate = timed(evaluate, "validation")
        trainer.save_checkpoint = timed(save, "checkpoints")
        trainer._close_writers = timed(close, "checkpoints")  # the wait for the last checkpoint and events


def dpzoo_arm(make_model, splits, steps, full=False, split: Split | None = None, **trainer_options):
    model = make_model()
    optimiser = torch.optim.Adam(model.parameters(), lr=LR)
    loss = dpzoo.create("loss", "cross_entropy")
    metrics = {"accuracy": dpzoo.create("metric", "accuracy")}
    options = dict(
        max_steps=steps,
        batch_size=BATCH,
        seed=SEED,
        device="cpu",
        progress=False,
        test=False,
        threads=torch.get_num_threads(),
    )  # the benchmark's thread count, for every arm alike
    if not full:
        options.update(validate_every=0, checkpoint_epochs=0)
    options.update(trainer_options)
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(TrainConfig(**options), run_dir=run_dir)
        if split is not None:
            split.watch(trainer)
        start = clock()
        trainer.fit(model, splits, optimisers={"model": optimiser}, loss=loss, metrics=metrics)
        return steps_per_second(steps, start)


def arm_lightning(splits, steps):
    import lightning as L

    class Module(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.model = mlp()

        def training_step(self, batch, _):
            xb, yb = batch
            return F.cross_entropy(self.model(xb), yb)

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=LR)

    x, y = splits.splits["train"]["x"], splits.splits["train"]["y"]
    loader = DataLoader(
        TensorDataset(x, y), batch_size=BATCH, shuffle=True, generator=torch.Generator().manual_seed(SEED)
    )
    trainer = L.Trainer(
        max_steps=steps,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    module = Module()
    start = clock()
    trainer.fit(module, loader)
    return steps_per_second(steps, start)


def compiled(make_model):
    """``make_model`` whose model is compiled once, up front: every round then trains a warm compiled model."""
    cache: dict[str, torch.nn.Module] = {}

    def make():
        fresh = make_model()
        if "model" not in cache:
            fresh.compile()
            cache["model"] = fresh
            return fresh
        cache["model"].load_state_dict(fresh.state_dict())  # the same start as the other arms, compiled code kept
        return cache["model"]

    return make


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000, help="MLP steps per round")
    parser.add_argument(
        "--lenet-steps", type=int, default=150, help="LeNet steps per round (0: leave the LeNet case out)"
    )
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument(
        "--threads", type=int, help="torch CPU threads (default: torch's); 1 is steadier on a shared machine"
    )
    parser.add_argument("--compile", action="store_true", help="add trainer.compile=true arms")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    digits, images = load_digits(), mnist_shaped()
    digits_train = train_only(digits)
    split = Split()
    arms = {  # name -> (case's ideal arm, function of steps)
        "ideal": ("ideal", lambda n: ideal(mlp, digits, n)),
        "dataloader": ("ideal", lambda n: arm_dataloader(digits, n)),
        "dpzoo": ("ideal", lambda n: dpzoo_arm(mlp, digits_train, n)),
        "dpzoo_full": ("ideal", lambda n: dpzoo_arm(mlp, digits, n, full=True, split=split)),
    }
    if args.compile:
        compiled_mlp = compiled(mlp)
        arms["dpzoo_compiled"] = ("ideal", lambda n: dpzoo_arm(compiled_mlp, digits_train, n))
    try:
        import lightning  # noqa: F401

        arms["lightning"] = ("ideal", lambda n: arm_lightning(digits, n))
    except ImportError:
        print("lightning is not installed (pip install 'dpzoo[bench]'): skipping that arm")
    if args.lenet_steps:
        arms["lenet_ideal"] = ("lenet_ideal", lambda n: ideal(lenet, images, n))
        arms["lenet_dpzoo"] = ("lenet_ideal", lambda n: dpzoo_arm(lenet, images, n))
        if args.compile:
            compiled_lenet = compiled(lenet)
            arms["lenet_compiled"] = ("lenet_ideal", lambda n: dpzoo_arm(compiled_lenet, images, n))
    steps = {name: args.lenet_steps if name.startswith("lenet") else args.steps for name in arms}
    for name, (_, arm) in arms.items():  # warm-up (and the compilers' one-off work)
        start = time.perf_counter()
        arm(max(10, steps[name] // 10))
        if name.endswith("compiled"):
            print(f"{name}: first call (compiling) {time.perf_counter() - start:.1f} s", flush=True)
    split.__init__()
    full_seconds = 0.0
    rates: dict[str, list[float]] = {name: [] for name in arms}
    ratios: dict[str, list[float]] = {name: [] for name, (base, _) in arms.items() if name != base}
    cases = {base: [n for n, (b, _) in arms.items() if b == base and n != base] for base, _ in arms.values()}

    cpu_rates: dict[str, list[float]] = {name: [] for name in arms}
    cpu_ratios: dict[str, list[float]] = {name: [] for name in ratios}

    def timed(name: str) -> tuple[float, float]:
        nonlocal full_seconds
        # untimed: the garbage of the arm before (and the imports') is collected now, not in this arm's time;
        # with torch loaded one full collection takes about 0.17 s here, a third of a 1,000-step MLP round
        gc.collect()
        rate, cpu_rate = arms[name][1](steps[name])
        rates[name].append(rate)
        cpu_rates[name].append(cpu_rate)
        if name == "dpzoo_full":
            full_seconds += steps[name] / rate
        return rate, cpu_rate

    for round_ in range(args.rounds):
        forward = round_ % 2 == 0  # alternate, so no arm always runs first
        for base in list(cases) if forward else list(cases)[::-1]:
            before = timed(base)
            for name in cases[base] if forward else cases[base][::-1]:  # each between two runs of its ideal loop
                rate = timed(name)
                after = timed(base)
                ratios[name].append(rate[0] / ((before[0] + after[0]) / 2))
                cpu_ratios[name].append(rate[1] / ((before[1] + after[1]) / 2))
                before = after
        print(f"round {round_ + 1}: " + ", ".join(f"{n} {r[-1]:.0f}/s" for n, r in rates.items()), flush=True)
    report: dict[str, float | int | str] = {}
    for name, (base, _) in arms.items():
        report[name] = round(max(rates[name]), 1)
        report[f"{name}_median"] = round(statistics.median(rates[name]), 1)
        report[f"{name}_cpu_median"] = round(statistics.median(cpu_rates[name]), 1)  # steps per CPU second
        if name != base:
            report[f"{name}_ratio"] = round(max(rates[name]) / max(rates[base]), 3)
            report[f"{name}_ratio_median"] = round(statistics.median(ratios[name]), 3)
            report[f"{name}_ratio_median_95"] = median_interval(ratios[name])
            report[f"{name}_cpu_ratio_median"] = round(statistics.median(cpu_ratios[name]), 3)
    # what every dpzoo run pays once, whatever its length: the writer threads, TensorBoard's file, and the
    # checkpoint at the end (its fsyncs: the disk's latency); a one-step fit, median of five
    fixed = statistics.median(1.0 / dpzoo_arm(mlp, digits_train, 1)[0] for _ in range(5))
    report["dpzoo_fixed_ms"] = round(1e3 * fixed, 1)
    training = full_seconds - split.validation - split.checkpoints
    report["dpzoo_full_split"] = {
        "training": round(training / full_seconds, 3),
        "validation": round(split.validation / full_seconds, 3),
        "checkpoints": round(split.checkpoints / full_seconds, 3),
    }
    report.update(
        threads=torch.get_num_threads(),
        rounds=args.rounds,
        steps=args.steps,
        lenet_steps=args.lenet_steps,
        torch=torch.__version__,
    )
    print("median steps/s: " + ", ".join(f"{n} {report[n + '_median']:.0f}" for n in arms))
    print(
        "ratio to the case's ideal, median over rounds: "
        + ", ".join(f"{n} {report[n + '_ratio_median']:.3f}" for n in arms if f"{n}_ratio_median" in report)
    )
    print(
        "95% bootstrap intervals of those medians: "
        + ", ".join(f"{n} {report[n + '_ratio_median_95']}" for n in arms if f"{n}_ratio_median_95" in report)
    )
    print(
        "the same in CPU time (all the process's threads; not the time other programs held the cores): "
        + ", ".join(f"{n} {report[n + '_cpu_ratio_median']:.3f}" for n in arms if f"{n}_cpu_ratio_median" in report)
    )
    print(
        f"dpzoo_full's time: {report['dpzoo_full_split']} (checkpoints: on the training thread, incl. the final wait)"
    )
    print(
        f"a one-step dpzoo fit (set-up and end of a run: threads, event file, the final checkpoint): "
        f"{report['dpzoo_fixed_ms']} ms"
    )
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.steps} MLP / {args.lenet_steps} LeNet "
        f"steps x {args.rounds} rounds; steps/s of each arm's fastest round and median, ratios to the case's ideal"
    )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
