"""kill -9 fuzz: SIGKILL a training run at random moments, resume it, and count bit-exact results.

    OMP_NUM_THREADS=1 python benchmarks/kill_fuzz.py --trials 24

One straight run gives the reference weights and the duration of training
(from its first step to its exit). Each trial forks a process that trains the
same run (checkpoints every ``--checkpoint-every`` steps, so many kills land
inside a checkpoint write); once it reports its first step, it is sent
SIGKILL after a delay drawn uniformly over that duration, then the run is
resumed in a fresh forked process and every tensor of ``model.safetensors`` is
compared with the reference. Forking from a parent that has already imported torch keeps a trial
at the cost of the training itself, so twenty-odd trials take seconds.

Printed: each trial's kill time, the step of the checkpoint it resumed from
(0: killed before the first one), whether the kill tore a write (a temporary
file left behind), and the bit-exact rate, which must be 100%.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402
from safetensors.torch import load_file  # noqa: E402

import dpzoo  # noqa: E402


def run_config(logdir: Path, name: str, epochs: int, checkpoint_every: int) -> dict:
    return {
        "model": {"name": "mlp", "hidden": [32], "dropout": 0.1},
        "data": "digits",
        "trainer": {
            "epochs": epochs,
            "checkpoint_every": checkpoint_every,
            "progress": False,
            "device": "cpu",
            "threads": 1,
        },
        "logdir": str(logdir),
        "run_name": name,
    }


def in_child(work) -> int:
    """Run ``work`` in a forked process; its pid."""
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - the child ends with os._exit
            work()
        except BaseException:  # noqa: BLE001 - report, then leave without running the parent's cleanup
            traceback.print_exc(file=sys.__stderr__)
            code = 1
        os._exit(code)
    return pid


def training(logdir: Path, name: str, args) -> tuple[int, int]:
    """(pid, read end of a pipe that gets a byte at the first training step) of a forked training run."""
    read, write = os.pipe()

    def started(trainer) -> None:
        if trainer.step == 1:
            os.write(write, b"1")

    pid = in_child(
        lambda: dpzoo.train(run_config(logdir, name, args.epochs, args.checkpoint_every), callbacks=[started])
    )
    os.close(write)
    return pid, read


def first_step(read: int) -> bool:
    """Block until the child's first step (True) or its death before it (False)."""
    got = os.read(read, 1)
    os.close(read)
    return got == b"1"


def wait(pid: int) -> int:
    """The child's exit status, negative for a signal (as ``subprocess`` reports it)."""
    _, status = os.waitpid(pid, 0)
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def same_weights(a: Path, b: Path) -> bool:
    x, y = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    return x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--checkpoint-every", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill times")
    args = parser.parse_args()
    torch.set_num_threads(1)
    dpzoo.list_models()  # load the plugins once, before forking

    logdir = Path(tempfile.mkdtemp(prefix="dpzoo-kill-fuzz-"))
    straight, read = training(logdir, "straight", args)
    assert first_step(read), "the straight run failed before its first step"
    started = time.perf_counter()
    assert wait(straight) == 0, "the straight run failed"
    duration = time.perf_counter() - started
    steps = json.loads((logdir / "straight/metrics.json").read_text())["step"]
    print(
        f"straight run: {steps} steps, {duration:.2f} s from its first step to its exit "
        f"(a checkpoint every {args.checkpoint_every} steps); "
        f"runs in {logdir}"
    )

    rng = random.Random(args.seed)
    exact = killed_mid_run = before_first = torn = 0
    for trial in range(args.trials):
        name = f"trial-{trial:02d}"
        delay = rng.uniform(0.0, duration)
        pid, read = training(logdir, name, args)
        assert first_step(read), f"trial {trial} failed before its first step"
        time.sleep(delay)
        os.kill(pid, signal.SIGKILL)
        status = wait(pid)
        run_dir = logdir / name
        mid_run = status == -signal.SIGKILL and not (run_dir / "model.safetensors").exists()
        leftovers = list(run_dir.rglob(".*.tmp")) if run_dir.exists() else []
        last = run_dir / "checkpoints/last.json"
        from_step = json.loads(last.read_text())["step"] if last.exists() else 0
        if (run_dir / "metrics.json").exists():
            how, again = "finished: no", None  # the kill came too late; nothing to resume
        elif not (run_dir / "config.json").exists():
            how = "restart"  # killed before config.json: the name is started again
            again = in_child(
                lambda name=name: dpzoo.train(run_config(logdir, name, args.epochs, args.checkpoint_every))
            )
        else:
            how = "resume"
            again = in_child(
                lambda name=name: dpzoo.train({"logdir": str(logdir), "trainer": {"threads": 1}}, resume=name)
            )
        resumed_ok = again is None or wait(again) == 0
        same = resumed_ok and same_weights(logdir / "straight", run_dir)
        exact += same
        killed_mid_run += mid_run
        before_first += mid_run and from_step == 0
        torn += bool(leftovers)
        print(
            f"trial {trial:2d}: kill {delay:5.2f} s after step 1, {'mid-run' if mid_run else 'after the end'}, "
            f"{how} from step {from_step:3d}{', torn write left' if leftovers else ''}: "
            f"{'bit-exact' if same else 'DIFFERENT' if resumed_ok else 'RESUME FAILED'}"
        )
    print(
        f"\nkilled mid-run: {killed_mid_run}/{args.trials} (before the first checkpoint: {before_first}; "
        f"with a torn write left behind: {torn})"
    )
    print(f"bit-exact after resume: {exact}/{args.trials} = {100 * exact / args.trials:.0f}%")
    return 0 if exact == args.trials else 1


if __name__ == "__main__":
    sys.exit(main())
