"""torchrun: data-parallel training with no change to the model or the command."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
from conftest import ROOT, run_cli
from safetensors.torch import load_file

STEPS = ["--max-steps", "8", "--set", "trainer.validate_every=0", "--set", "model.hidden=[32]", "--lr", "0.01"]


@pytest.mark.skipif(not torch.distributed.is_available(), reason="this PyTorch build has no torch.distributed")
def test_two_processes_with_half_batches_take_the_steps_of_one_with_whole_batches(tmp_path):
    single = run_cli(
        "train",
        "--model",
        "mlp",
        "--data",
        "digits",
        "--batch-size",
        "64",
        *STEPS,
        "--logdir",
        str(tmp_path),
        "--run-name",
        "single",
    )
    assert single.returncode == 0, single.stderr
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    ddp = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            str(ROOT / "tools/train.py"),
            "--model",
            "mlp",
            "--data",
            "digits",
            "--batch-size",
            "32",
            *STEPS,
            "--logdir",
            str(tmp_path),
            "--run-name",
            "ddp",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    assert ddp.stdout.count("run: ") == 1  # only rank 0 reports and writes
    a, b = load_file(tmp_path / "single/model.safetensors"), load_file(tmp_path / "ddp/model.safetensors")
    for name in a:  # gradients averaged across processes: equal up to the order of float sums
        torch.testing.assert_close(a[name], b[name], rtol=1e-4, atol=1e-6)
