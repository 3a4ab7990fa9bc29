"""torchrun: data-parallel training with no change to the model or the command."""

from __future__ import annotations

import pytest
import torch
from conftest import run_cli, train_under_torchrun
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
    ddp = train_under_torchrun(
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
    )
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    assert ddp.stdout.count("run: ") == 1  # only rank 0 reports and writes
    a, b = load_file(tmp_path / "single/model.safetensors"), load_file(tmp_path / "ddp/model.safetensors")
    for name in a:  # gradients averaged across processes: equal up to the order of float sums
        torch.testing.assert_close(a[name], b[name], rtol=1e-4, atol=1e-6)
