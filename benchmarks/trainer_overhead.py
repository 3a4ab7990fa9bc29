"""How much does dpzoo's trainer cost over a hand-written loop?

The same MLP (64-128-10), the same data (the bundled 8x8 digits, training
split), Adam, batch 64 and seed, for the same number of steps, in one process:

* ``ideal``      - a hand-written loop over pre-shuffled index batches of in-memory tensors
* ``dataloader`` - a hand-written loop over ``DataLoader(TensorDataset(...), shuffle=True)``
* ``dpzoo``      - ``dpzoo.Trainer`` with TensorBoard logging every 50 steps (no validation)
* ``dpzoo_full`` - the same with its defaults: validation and a checkpoint after every epoch
* ``lightning``  - ``lightning.Trainer`` with logging and checkpoints off (if installed)

Arms are interleaved over many short rounds, in alternating order, and each
arm is scored by its fastest round (as ``timeit`` takes the fastest repeat:
on a shared machine the slower rounds measure the neighbours). The medians are
printed too. The last line is one JSON object of steps per second per arm,
plus each arm's ratio to ``ideal``.

    python benchmarks/trainer_overhead.py [--steps 1000] [--rounds 15] [--threads N]
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
from torch.utils.data import DataLoader, TensorDataset

import dpzoo
from dpzoo.trainer import InMemorySplits, TrainConfig, Trainer

BATCH, LR, SEED = 64, 1e-3, 0


def load_data():
    dataset = dpzoo.create("dataset", "digits")
    dd = dataset.load()
    splits = InMemorySplits.from_dataset_dict(dd, ("x", "y"), torch.device("cpu"), dataset.transform)
    return splits


def make_model():
    torch.manual_seed(SEED)
    return dpzoo.create_model("mlp", input_shape=[1, 8, 8], num_classes=10, hidden=[128])


def arm_ideal(splits, steps):
    model = make_model()
    optimiser = torch.optim.Adam(model.parameters(), lr=LR)
    x, y = splits.splits["train"]["x"], splits.splits["train"]["y"]
    generator = torch.Generator().manual_seed(SEED)
    done, start = 0, time.perf_counter()
    while done < steps:
        for index in torch.randperm(len(x), generator=generator).split(BATCH):
            loss = F.cross_entropy(model(x[index]), y[index])
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            done += 1
            if done == steps:
                break
    return steps / (time.perf_counter() - start)


def arm_dataloader(splits, steps):
    model = make_model()
    optimiser = torch.optim.Adam(model.parameters(), lr=LR)
    x, y = splits.splits["train"]["x"], splits.splits["train"]["y"]
    loader = DataLoader(TensorDataset(x, y), batch_size=BATCH, shuffle=True, generator=torch.Generator().manual_seed(SEED))
    done, start = 0, time.perf_counter()
    while done < steps:
        for xb, yb in loader:
            loss = F.cross_entropy(model(xb), yb)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            done += 1
            if done == steps:
                break
    return steps / (time.perf_counter() - start)


def arm_dpzoo(splits, steps, full=False):
    model = make_model()
    optimiser = torch.optim.Adam(model.parameters(), lr=LR)
    loss = dpzoo.create("loss", "cross_entropy")
    metrics = {"accuracy": dpzoo.create("metric", "accuracy")}
    options = dict(max_steps=steps, batch_size=BATCH, seed=SEED, device="cpu", progress=False, test=False)
    if not full:
        options.update(validate_every=0, checkpoint_epochs=0)
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(TrainConfig(**options), run_dir=run_dir)
        start = time.perf_counter()
        trainer.fit(model, splits, optimisers={"model": optimiser}, loss=loss, metrics=metrics)
        return steps / (time.perf_counter() - start)


def arm_lightning(splits, steps):
    import lightning as L

    class Module(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.model = make_model()

        def training_step(self, batch, _):
            xb, yb = batch
            return F.cross_entropy(self.model(xb), yb)

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=LR)

    x, y = splits.splits["train"]["x"], splits.splits["train"]["y"]
    loader = DataLoader(TensorDataset(x, y), batch_size=BATCH, shuffle=True, generator=torch.Generator().manual_seed(SEED))
    trainer = L.Trainer(
        max_steps=steps, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False,
    )
    module = Module()
    start = time.perf_counter()
    trainer.fit(module, loader)
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's); 1 is steadier on a shared machine")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    splits = load_data()
    arms = {
        "ideal": arm_ideal,
        "dataloader": arm_dataloader,
        "dpzoo": arm_dpzoo,
        "dpzoo_full": lambda s, n: arm_dpzoo(s, n, full=True),
    }
    try:
        import lightning  # noqa: F401

        arms["lightning"] = arm_lightning
    except ImportError:
        print("lightning is not installed (pip install 'dpzoo[bench]'): skipping that arm")
    for arm in arms.values():  # warm-up
        arm(splits, 100)
    rates: dict[str, list[float]] = {name: [] for name in arms}
    names = list(arms)
    for round_ in range(args.rounds):
        order = names if round_ % 2 == 0 else names[::-1]  # alternate, so no arm always runs first
        for name in order:
            rates[name].append(arms[name](splits, args.steps))
        print(f"round {round_ + 1}: " + ", ".join(f"{n} {r[-1]:.0f}/s" for n, r in rates.items()), flush=True)
    # As timeit does: the fastest round of each arm is the one least disturbed by the
    # rest of the machine; the median is printed beside it for the record.
    best = {name: max(values) for name, values in rates.items()}
    medians = {name: statistics.median(values) for name, values in rates.items()}
    print("median steps/s: " + ", ".join(f"{n} {v:.0f}" for n, v in medians.items()))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.steps} steps x {args.rounds} rounds; "
          "steps/s of each arm's fastest round, and ratios to 'ideal'")
    ratios = {f"{name}_ratio": best[name] / best["ideal"] for name in best if name != "ideal"}
    print(json.dumps({**{k: round(v, 1) for k, v in best.items()}, **{k: round(v, 3) for k, v in ratios.items()}}))

if __name__ == "__main__":
    main()
