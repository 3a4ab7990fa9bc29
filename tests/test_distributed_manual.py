"""torchrun with the manual step and with accumulation: 2 gloo processes equal 1 process at the doubled batch."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import torch
from conftest import ROOT
from safetensors.torch import load_file

pytestmark = pytest.mark.skipif(
    not torch.distributed.is_available(), reason="this PyTorch build has no torch.distributed"
)

# A two-optimiser model registered in-process, then the ordinary CLI: the same script runs alone and under torchrun.
SCRIPT = textwrap.dedent(
    """
    import sys
    import torch
    from torch import nn
    import dpzoo
    from dpzoo import cli

    class Adversaries(dpzoo.Model):
        default_metrics = ()

        def __init__(self, config=None):
            super().__init__(config)
            self.g = nn.Linear(64, 10)
            self.d = nn.Linear(10, 1)

        def parameter_groups(self):
            return {"generator": list(self.g.parameters()), "critic": list(self.d.parameters())}

        def forward(self, batch):
            return self.g(self.inputs(batch).flatten(1))

        def training_step(self, batch, ctx):
            fake = self(batch)
            ctx.optimise("critic", self.d(fake.detach()).pow(2).mean() + self.d(fake.detach()).mean())
            ctx.optimise("generator", -self.d(self(batch)).pow(2).mean())

        def evaluation_step(self, batch, ctx):
            return {"critic_output": self.d(self(batch)).mean()}

    class Plugin:
        @dpzoo.hookimpl
        def dpzoo_register_models(self, register):
            register("adversaries", Adversaries)

    dpzoo.register_plugin(Plugin(), name="adversaries_test")
    sys.exit(cli.main(sys.argv[1:]))
    """
)


def launch(tmp_path, processes: int, *args: str) -> subprocess.CompletedProcess:
    script = tmp_path / "train_adversaries.py"
    script.write_text(SCRIPT)
    runner = (
        [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
        if processes > 1
        else [sys.executable]
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([*runner, str(script), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_manual_mode_under_torchrun_equals_one_process_at_the_doubled_batch(tmp_path):
    common = [
        "train",
        "--model",
        "adversaries",
        "--data",
        "digits",
        "--max-steps",
        "6",
        "--optimiser",
        "sgd",
        "--lr",
        "0.1",
        "--set",
        "trainer.accumulate=2",
        "--set",
        "trainer.validate_every=0",
        "--logdir",
        str(tmp_path),
    ]
    single = launch(tmp_path, 1, *common, "--batch-size", "32", "--run-name", "single")
    assert single.returncode == 0, single.stderr[-3000:]
    ddp = launch(tmp_path, 2, *common, "--batch-size", "16", "--run-name", "ddp")
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    assert ddp.stdout.count("run: ") == 1  # only rank 0 reports and writes
    a, b = load_file(tmp_path / "single/model.safetensors"), load_file(tmp_path / "ddp/model.safetensors")
    for name in a:  # gradients averaged across processes once per step: equal up to the order of float sums
        torch.testing.assert_close(a[name], b[name], rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_automatic_mode_accumulation_under_torchrun_equals_one_process(tmp_path):
    """Micro-batches inside a window skip DDP's all-reduce (no_sync); the window's step still averages them all."""
    common = [
        "train",
        "--model",
        "mlp",
        "--data",
        "digits",
        "--max-steps",
        "8",
        "--lr",
        "0.01",
        "--set",
        "model.hidden=[32]",
        "--set",
        "trainer.accumulate=2",
        "--set",
        "trainer.validate_every=0",
        "--logdir",
        str(tmp_path),
    ]
    single = launch(tmp_path, 1, *common, "--batch-size", "32", "--run-name", "single")
    assert single.returncode == 0, single.stderr[-3000:]
    ddp = launch(tmp_path, 2, *common, "--batch-size", "16", "--run-name", "ddp")
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    a, b = load_file(tmp_path / "single/model.safetensors"), load_file(tmp_path / "ddp/model.safetensors")
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-4, atol=1e-6)
