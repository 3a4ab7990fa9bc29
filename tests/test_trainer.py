"""The trainer's contracts (DESIGN.md, Trainer): modes, logging, checkpoints, resume."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import ROOT, run_cli
from safetensors.torch import load_file
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn

import dpzoo
from dpzoo.trainer import InMemorySplits, TrainConfig, Trainer, checkpoint as ckpt
from dpzoo.trainer.recovery import load_checkpoint

QUIET = {"progress": False, "device": "cpu"}


@pytest.fixture(scope="module")
def digits() -> InMemorySplits:
    dataset = dpzoo.create("dataset", "digits")
    return InMemorySplits.from_dataset_dict(
        dataset.load(), tuple(dataset.columns), torch.device("cpu"), dataset.transform
    )


def mlp(**overrides) -> nn.Module:
    torch.manual_seed(0)
    return dpzoo.create_model("mlp", input_shape=[1, 8, 8], num_classes=10, **overrides)


def events(run_dir: Path) -> EventAccumulator:
    accumulator = EventAccumulator(str(run_dir), size_guidance={"scalars": 0, "tensors": 0})
    accumulator.Reload()
    return accumulator


def run(tmp_path: Path, name: str, **trainer) -> dpzoo.run.RunResult:
    return dpzoo.train(
        {
            "model": {"name": "mlp", "hidden": [32], "dropout": 0.1},
            "data": "digits",
            "trainer": {**QUIET, **trainer},
            "logdir": str(tmp_path),
            "run_name": name,
        }
    )


# -- automatic mode, logging ---------------------------------------------------------
def test_a_run_writes_events_config_metrics_and_weights(tmp_path):
    result = run(tmp_path, "r", epochs=2, log_every=5)
    run_dir = tmp_path / "r"
    for name in ("config.json", "metrics.json", "model.safetensors", "checkpoints/last.json"):
        assert (run_dir / name).exists(), name
    config = json.loads((run_dir / "config.json").read_text())
    assert config["model"]["hidden"] == [32] and config["model"]["input_shape"] == [1, 8, 8]
    assert config["loss"]["name"] == "cross_entropy" and config["metrics"] == ["accuracy"]
    assert set(config["data_fingerprints"]) == {"train", "validation", "test"}
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics == pytest.approx(result.metrics)
    assert 0.0 <= metrics["test/accuracy"] <= 1.0 and metrics["epoch"] == 2

    acc = events(run_dir)
    tags = set(acc.Tags()["scalars"])
    assert {"train/loss", "train/lr", "validation/loss", "validation/accuracy", "test/accuracy"} <= tags
    steps = [e.step for e in acc.Scalars("train/loss")]
    assert steps == list(range(5, metrics["step"] + 1, 5))  # every log_every steps
    assert [e.step for e in acc.Scalars("validation/accuracy")] == [20, 40]  # once per epoch, not again at the end
    # hparams carry the resolved config and the real final metrics
    content = acc.PluginTagToContent("hparams")
    from tensorboard.plugins.hparams import plugin_data_pb2

    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
    hparams = dict(start.session_start_info.hparams)
    assert hparams["model.hidden"].string_value == "[32]"
    assert hparams["optimiser.name"].string_value == "adam"
    experiment = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/experiment"])
    assert {m.name.tag for m in experiment.experiment.metric_infos} >= {"test/accuracy", "validation/loss"}
    assert acc.Scalars("test/accuracy")[-1].value == pytest.approx(metrics["test/accuracy"], abs=1e-6)


class TwoTermLoss(dpzoo.Loss):
    """Cross-entropy plus an L2 penalty, reported as separate terms."""

    def __call__(self, output, batch):
        data = nn.functional.cross_entropy(output, batch["y"])
        penalty = 1e-3 * output.pow(2).mean()
        return dpzoo.LossOutput(data + penalty, {"data": data, "penalty": penalty})


@pytest.fixture
def two_term_plugin():
    class Plugin:
        @dpzoo.hookimpl
        def dpzoo_register_losses(self, register):
            register("two_term", TwoTermLoss)

    dpzoo.register_plugin(Plugin(), name="test_two_term")
    yield
    dpzoo.unregister_plugin("test_two_term")


def test_loss_terms_are_logged_separately(tmp_path, two_term_plugin):
    dpzoo.train(
        {
            "model": "mlp",
            "data": "digits",
            "loss": "two_term",
            "trainer": {**QUIET, "max_steps": 20, "log_every": 10},
            "logdir": str(tmp_path),
            "run_name": "t",
        }
    )
    acc = events(tmp_path / "t")
    tags = set(acc.Tags()["scalars"])
    assert {"train/loss", "train/data", "train/penalty", "validation/data", "validation/penalty"} <= tags
    loss, data, penalty = (acc.Scalars(f"train/{t}")[0].value for t in ("loss", "data", "penalty"))
    assert loss == pytest.approx(data + penalty, rel=1e-5)


def test_training_values_kept_until_the_next_log_hold_no_autograd_graph(digits):
    # a kept loss with its grad_fn would keep its step's whole graph alive until the log, up to 50 steps later
    kept = []

    def look(trainer):
        kept.extend(v for values in trainer._pending.values() for v in values)

    model = mlp()
    Trainer(TrainConfig(max_steps=12, log_every=10, batch_size=64, **QUIET), callbacks=[look]).fit(
        model, digits, optimisers={"model": torch.optim.SGD(model.parameters(), lr=0.1)}, loss=TwoTermLoss()
    )
    assert len(kept) > 12 and all(isinstance(v, torch.Tensor) for v in kept)
    assert not any(v.requires_grad or v.grad_fn is not None for v in kept)


# -- manual mode ------------------------------------------------------------------------
class TwoPlayer(dpzoo.Model):
    """Two linear 'players' with opposing losses, as in a GAN: manual mode with two optimisers."""

    def __init__(self, config=None):
        super().__init__(config)
        self.g = nn.Linear(64, 10)
        self.d = nn.Linear(10, 1)

    def parameter_groups(self):
        return {"generator": list(self.g.parameters()), "discriminator": list(self.d.parameters())}

    def forward(self, batch):
        return self.g(self.inputs(batch).flatten(1))

    def losses(self, batch):
        fake = self(batch)
        d_loss = self.d(fake.detach()).mean() ** 2 + self.d(fake.detach()).mean()
        g_loss = -self.d(fake).mean()
        return d_loss, g_loss

    def training_step(self, batch, ctx):
        d_loss, _ = self.losses(batch)
        ctx.optimise("discriminator", d_loss)
        _, g_loss = self.losses(batch)
        ctx.optimise("generator", g_loss)
        ctx.log("generator_loss", g_loss.detach())
        return {"loss": d_loss.detach() + g_loss.detach(), "discriminator": d_loss.detach()}

    def evaluation_step(self, batch, ctx):
        d_loss, g_loss = self.losses(batch)
        return {"discriminator": d_loss, "generator": g_loss}


def test_manual_mode_steps_two_optimisers_like_a_hand_written_loop(digits):
    torch.manual_seed(0)
    model = TwoPlayer()
    reference = TwoPlayer()
    reference.load_state_dict(model.state_dict())
    opts = {
        "generator": torch.optim.SGD(model.g.parameters(), lr=0.1),
        "discriminator": torch.optim.SGD(model.d.parameters(), lr=0.1),
    }
    trainer = Trainer(TrainConfig(max_steps=3, batch_size=16, validate_every=0, test=False, **QUIET))
    trainer.fit(model, digits, optimisers=opts)

    # the same three steps by hand: each optimiser sees only its own loss's gradient
    g_opt = torch.optim.SGD(reference.g.parameters(), lr=0.1)
    d_opt = torch.optim.SGD(reference.d.parameters(), lr=0.1)
    for index in digits.epoch_order(0, 0, 16, False)[:3]:
        batch = digits.gather("train", index)
        d_opt.zero_grad()
        reference.losses(batch)[0].backward()
        d_opt.step()
        g_opt.zero_grad()
        reference.losses(batch)[1].backward()
        g_opt.step()
    for (name, a), b in zip(model.state_dict().items(), reference.state_dict().values()):
        assert torch.equal(a, b), name


def test_manual_mode_applies_clipping_and_logs_its_values(digits, tmp_path):
    torch.manual_seed(0)
    model = TwoPlayer()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    opts = {n: torch.optim.SGD(p, lr=1.0) for n, p in model.parameter_groups().items()}
    trainer = Trainer(
        TrainConfig(max_steps=1, batch_size=64, grad_clip=1e-3, validate_every=0, log_every=1, **QUIET),
        run_dir=tmp_path,
    )
    final = trainer.fit(model, digits, optimisers=opts)
    for name in ("g.weight", "g.bias"):  # the generator's update is bounded by the clipped norm
        step = (model.state_dict()[name] - before[name]).norm()
        assert 0 < step <= 1e-3 + 1e-7
    tags = set(events(tmp_path).Tags()["scalars"])
    assert {"train/loss", "train/discriminator", "train/generator_loss", "train/lr/generator", "test/generator"} <= tags
    assert "test/discriminator" in final


def test_evaluation_runs_under_no_grad_not_inference_mode(digits):
    seen = {}

    class InnerLoop(TwoPlayer):
        def evaluation_step(self, batch, ctx):
            seen["grad_enabled"] = torch.is_grad_enabled()
            seen["inference"] = torch.is_inference_mode_enabled()
            with torch.enable_grad():  # an inner optimisation, as DSPN does
                z = torch.zeros(3, requires_grad=True)
                (z - 1).pow(2).sum().backward()
            return {"inner_grad": z.grad.sum().abs()}

    model = InnerLoop()
    opts = {n: torch.optim.SGD(p, lr=0.1) for n, p in model.parameter_groups().items()}
    final = Trainer(TrainConfig(max_steps=1, validate_every=0, **QUIET)).fit(model, digits, optimisers=opts)
    assert seen == {"grad_enabled": False, "inference": False}
    assert final["test/inner_grad"] == pytest.approx(6.0)


# -- accumulation, early stopping, temperature ------------------------------------------------
def test_accumulating_two_half_batches_equals_one_full_batch(digits):
    def train(batch_size, accumulate):
        model = mlp(hidden=[16])
        opts = {"model": torch.optim.SGD(model.parameters(), lr=0.5)}
        order = digits.epoch_order(0, 0, 64, False)[0]
        fixed = InMemorySplits({"train": digits.gather("train", order)})
        cfg = TrainConfig(
            max_steps=accumulate,
            batch_size=batch_size,
            accumulate=accumulate,
            validate_every=0,
            test=False,
            seed=0,
            **QUIET,
        )
        Trainer(cfg).fit(model, fixed, optimisers=opts, loss=dpzoo.create("loss", "cross_entropy"))
        return model.state_dict()

    one, two = train(64, 1), train(32, 2)
    for name in one:
        torch.testing.assert_close(one[name], two[name], rtol=1e-5, atol=1e-6)


def test_early_stopping_stops_when_the_monitor_stalls(tmp_path):
    result = run(
        tmp_path,
        "e",
        epochs=50,
        early_stopping={"monitor": "validation/accuracy", "mode": "max", "patience": 1, "min_delta": 1.0},
    )
    assert result.metrics["epoch"] == 2  # the first evaluation sets the best; the second cannot beat it by 1.0


class Scripted(dpzoo.Metric):
    """A dataset-level metric whose compute() replays fixed values, one per evaluation."""

    higher_is_better = True

    def __init__(self, values):
        super().__init__()
        self.values = list(values)

    def reset(self):
        pass

    def update(self, output, batch):
        pass

    def compute(self):
        return self.values.pop(0)


def test_early_stopping_follows_higher_is_better_and_resets_patience_on_improvement(digits):
    # max mode (from higher_is_better): 0.6 improves on 0.5 and resets the count, so 2 bad evaluations
    # come only at the 5th. With min mode, or without the reset, it would stop at the 4th.
    model = mlp(hidden=[8])
    metric = Scripted([0.5, 0.4, 0.6, 0.55, 0.58, 0.9, 0.9, 0.9])
    cfg = TrainConfig(
        epochs=8, batch_size=512, test=False, early_stopping={"monitor": "validation/scripted", "patience": 2}, **QUIET
    )
    trainer = Trainer(cfg)
    final = trainer.fit(
        model,
        digits,
        optimisers={"model": torch.optim.SGD(model.parameters(), lr=0.1)},
        loss=dpzoo.create("loss", "cross_entropy"),
        metrics={"scripted": metric},
    )
    assert final["epoch"] == 5 and final["validation/scripted"] == 0.58
    assert [h["validation/scripted"] for h in trainer.history] == [0.5, 0.4, 0.6, 0.55, 0.58]


class BalancedAccuracy(dpzoo.Metric):
    """Mean over classes of the per-class recall: not a mean of per-example values, so it accumulates."""

    higher_is_better = True

    def reset(self):
        self.hits, self.counts = torch.zeros(10, dtype=torch.float64), torch.zeros(10, dtype=torch.float64)

    def update(self, output, batch):
        y = batch["y"]
        self.counts += torch.bincount(y, minlength=10).double()
        self.hits += torch.bincount(y[output.argmax(-1) == y], minlength=10).double()

    def compute(self):
        return float((self.hits / self.counts).mean())


def test_a_dataset_level_metric_equals_its_direct_computation_over_the_whole_split(digits):
    model = mlp(hidden=[16])
    cfg = TrainConfig(max_steps=20, eval_batch_size=47, validate_every=0, **QUIET)  # uneven batches of the split
    final = Trainer(cfg).fit(
        model,
        digits,
        optimisers={"model": torch.optim.SGD(model.parameters(), lr=0.5)},
        loss=dpzoo.create("loss", "cross_entropy"),
        metrics={"balanced": BalancedAccuracy(), "accuracy": dpzoo.create("metric", "accuracy")},
    )
    model.eval()
    with torch.no_grad():
        y = digits.splits["test"]["y"]
        predicted = model(digits.gather("test", torch.arange(len(y)))).argmax(-1)
    recall = [float(((predicted == y) & (y == k)).sum()) / float((y == k).sum()) for k in range(10)]
    assert final["test/balanced"] == pytest.approx(sum(recall) / 10, rel=1e-12)
    assert final["test/accuracy"] == pytest.approx(float((predicted == y).double().mean()), rel=1e-6)
    assert final["test/balanced"] != pytest.approx(final["test/accuracy"], rel=1e-6)  # the two really differ


class Reconstruct(dpzoo.Model):
    """An autoencoder's shape: the output is compared with x, and there is nothing to classify."""

    default_loss = {"name": "mse", "target": "x"}
    default_metrics = ()

    def __init__(self, config=None):
        super().__init__(config)
        self.linear = nn.Linear(64, 64)

    def forward(self, batch):
        x = self.inputs(batch)
        return self.linear(x.flatten(1)).view_as(x)


@pytest.fixture
def reconstruct_plugin():
    class Plugin:
        @dpzoo.hookimpl
        def dpzoo_register_models(self, register):
            register("reconstruct", Reconstruct)

    dpzoo.register_plugin(Plugin(), name="test_reconstruct")
    yield
    dpzoo.unregister_plugin("test_reconstruct")


def test_a_default_loss_section_and_empty_default_metrics_are_honoured(tmp_path, reconstruct_plugin, recwarn):
    result = dpzoo.train(
        {
            "model": "reconstruct",
            "data": "digits",
            "trainer": {**QUIET, "max_steps": 10},
            "logdir": str(tmp_path),
            "run_name": "ae",
        }
    )
    config = json.loads((tmp_path / "ae/config.json").read_text())
    assert config["loss"] == {"name": "mse", "target": "x", "reduction": "mean"}
    assert config["metrics"] == []  # () means none, not the data's accuracy
    assert set(result.metrics) == {"validation/loss", "test/loss", "step", "epoch", "seconds"}
    x = result.trainer.data.splits["test"]["x"]
    with torch.no_grad():
        direct = nn.functional.mse_loss(
            result.model(result.trainer.data.gather("test", torch.arange(len(x)))),
            result.trainer.data.gather("test", torch.arange(len(x)))["x"],
        )
    assert result.metrics["test/loss"] == pytest.approx(float(direct), rel=1e-5)
    assert not [w for w in recwarn if "broadcast" in str(w.message)]


def test_plateau_schedules_take_their_mode_from_the_monitored_metric(tmp_path):
    result = dpzoo.train(
        {
            "model": "mlp",
            "data": "digits",
            "trainer": {**QUIET, "epochs": 1},
            "scheduler": {"name": "reduce_on_plateau", "monitor": "validation/accuracy"},
            "logdir": str(tmp_path),
            "run_name": "p",
        }
    )
    assert result.trainer.schedulers["model"].mode == "max" and result.config["scheduler"]["mode"] == "max"
    result = dpzoo.train(
        {
            "model": "mlp",
            "data": "digits",
            "trainer": {**QUIET, "epochs": 1},
            "scheduler": {"name": "reduce_on_plateau", "monitor": "validation/loss"},
            "logdir": str(tmp_path),
            "run_name": "q",
        }
    )
    assert result.trainer.schedulers["model"].mode == "min"


# -- checkpoints and resume ----------------------------------------------------------------------
class Killed(Exception):
    pass


def test_resume_after_a_kill_is_bit_exact(tmp_path):
    """N steps == k steps + kill + resume + (N - k) steps, with dropout and a schedule."""
    config = {
        "model": {"name": "mlp", "hidden": [32], "dropout": 0.2},
        "data": "digits",
        "scheduler": {"name": "cosine"},
        "trainer": {**QUIET, "epochs": 3, "checkpoint_every": 25, "checkpoint_epochs": 0},
        "logdir": str(tmp_path),
    }
    straight = dpzoo.train({**config, "run_name": "straight"})

    def kill_after_checkpoint(trainer):
        if trainer.step == 33:  # the last checkpoint was at step 25; steps 26..33 are lost
            raise Killed

    with pytest.raises(Killed):
        dpzoo.train({**config, "run_name": "killed"}, callbacks=[kill_after_checkpoint])
    assert json.loads((tmp_path / "killed/checkpoints/last.json").read_text())["step"] == 25
    resumed = dpzoo.train({"logdir": str(tmp_path)}, resume="killed")  # a run name under logdir, or a path

    assert resumed.metrics["step"] == straight.metrics["step"]
    a, b = load_file(tmp_path / "straight/model.safetensors"), load_file(tmp_path / "killed/model.safetensors")
    for name in a:
        assert torch.equal(a[name], b[name]), name
    assert resumed.metrics["test/accuracy"] == straight.metrics["test/accuracy"]


def test_resume_after_sigkill_of_the_cli(tmp_path):
    """A real process, killed with SIGKILL mid-run (after a checkpoint, before the end), resumes to the same weights."""
    args = [
        "--model",
        "mlp",
        "--data",
        "digits",
        "--epochs",
        "12",
        "--set",
        "model.dropout=0.1",
        "--set",
        "trainer.checkpoint_every=10",
        "--logdir",
        str(tmp_path),
    ]
    assert run_cli("train", *args, "--run-name", "straight").returncode == 0
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "tools/train.py"), *args, "--run-name", "killed"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    last = tmp_path / "killed/checkpoints/last.json"
    deadline = time.monotonic() + 120
    while not last.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert last.exists(), "no checkpoint appeared: the kill would not test a resume"
    process.send_signal(signal.SIGSTOP)  # frozen: what is on disk now is what the kill leaves
    assert not (tmp_path / "killed/model.safetensors").exists(), "the run finished before the kill; make it longer"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    killed_at = json.loads(last.read_text())["step"]
    resumed = run_cli("train", "--resume", str(tmp_path / "killed"))
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming mlp on digits" in resumed.stdout
    straight = json.loads((tmp_path / "straight/metrics.json").read_text())
    assert killed_at < straight["step"]
    a, b = load_file(tmp_path / "straight/model.safetensors"), load_file(tmp_path / "killed/model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_crash_while_writing_a_checkpoint_keeps_the_previous_one(tmp_path, monkeypatch):
    directory = tmp_path / "checkpoints"
    state = {"w": torch.arange(6.0), "progress": {"step": 1}}
    ckpt.save_checkpoint(directory, 1, state)

    def crash_halfway(fd):  # the bytes are written, not yet flushed...
        raise OSError("disk full")  # ...then the crash

    import dpzoo.files

    monkeypatch.setattr(dpzoo.files.os, "fsync", crash_halfway)
    with pytest.raises(OSError, match="disk full"):
        ckpt.save_checkpoint(directory, 2, {"w": torch.zeros(6), "progress": {"step": 2}})
    step, restored = load_checkpoint(directory)
    assert step == 1 and torch.equal(restored["w"], torch.arange(6.0)) and restored["progress"] == {"step": 1}


def test_a_corrupt_checkpoint_is_refused_with_its_hash(tmp_path):
    directory = tmp_path / "checkpoints"
    path = ckpt.save_checkpoint(directory, 7, {"w": torch.ones(4)})
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(dpzoo.IntegrityError, match=r"step-00000007\.safetensors.*sha256"):
        load_checkpoint(directory)


def test_checkpoints_hold_optimiser_state_without_pickle(tmp_path):
    model = mlp(hidden=[8])
    optimiser = torch.optim.Adam(model.parameters(), lr=0.01)
    model(torch.randn(4, 1, 8, 8)).sum().backward()
    optimiser.step()
    ckpt.save_checkpoint(tmp_path, 1, {"opt": optimiser.state_dict()})
    _, state = load_checkpoint(tmp_path)
    fresh = torch.optim.Adam(mlp(hidden=[8]).parameters(), lr=0.5)
    fresh.load_state_dict(state["opt"])
    assert fresh.param_groups[0]["lr"] == 0.01 and fresh.param_groups[0]["betas"] == (0.9, 0.999)
    assert torch.equal(fresh.state_dict()["state"][0]["exp_avg"], optimiser.state_dict()["state"][0]["exp_avg"])


def test_only_the_last_checkpoints_are_kept(tmp_path):
    for step in range(1, 6):
        ckpt.save_checkpoint(tmp_path, step, {"w": torch.full((2,), float(step))}, keep=2)
    assert sorted(p.name for p in tmp_path.glob("step-*.safetensors")) == [
        "step-00000004.safetensors",
        "step-00000005.safetensors",
    ]


# -- CLI errors ------------------------------------------------------------------------------
def test_a_misspelt_config_key_is_an_error_that_names_it(tmp_path):
    result = run_cli(
        "train", "--model", "mlp", "--data", "digits", "--set", "model.hiden=[64]", "--logdir", str(tmp_path)
    )
    assert result.returncode == 2
    assert "hiden" in result.stderr and "did you mean 'hidden'" in result.stderr
    result = run_cli(
        "train", "--model", "mlp", "--data", "digits", "--set", "trainer.epoch=3", "--logdir", str(tmp_path)
    )
    assert result.returncode == 2 and "trainer.epoch" in result.stderr and "'epochs'" in result.stderr
    assert not any(tmp_path.iterdir())  # nothing half-made


def test_an_unknown_model_suggests_the_closest(tmp_path):
    result = run_cli("train", "--model", "mpl", "--data", "digits", "--logdir", str(tmp_path))
    assert result.returncode == 2 and "no model named 'mpl'" in result.stderr and "mlp" in result.stderr


def test_progress_bar_is_quiet_when_not_a_terminal(tmp_path):
    result = run_cli(
        "train", "--model", "mlp", "--data", "digits", "--max-steps", "5", "--logdir", str(tmp_path), "--run-name", "q"
    )
    assert result.returncode == 0, result.stderr
    assert "step/s" not in result.stderr and "it/s" not in result.stderr
    assert f"run: {tmp_path / 'q'}" in result.stdout and "test/accuracy" in result.stdout


def test_the_trainer_on_tensors_imports_neither_datasets_nor_tensorboard():
    """datasets (pyarrow, pandas) load only with a dataset, TensorBoard only with a run directory (issue 16)."""
    code = (
        "import sys, torch, dpzoo\n"
        "from dpzoo.trainer import InMemorySplits, TrainConfig, Trainer\n"
        "splits = InMemorySplits({'train': {'x': torch.rand(32, 1, 8, 8), 'y': torch.randint(0, 10, (32,))}})\n"
        "model = dpzoo.create_model('mlp', input_shape=[1, 8, 8], num_classes=10, hidden=[8])\n"
        "Trainer(TrainConfig(max_steps=2, progress=False, device='cpu')).fit(\n"
        "    model, splits, optimisers={'model': torch.optim.SGD(model.parameters(), lr=0.1)},\n"
        "    loss=dpzoo.create('loss', 'cross_entropy'))\n"
        "print(sorted(m for m in ('datasets', 'pyarrow', 'pandas', 'tensorboard', 'sklearn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_one_cpu_thread_by_default_and_null_leaves_torchs_count():
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        Trainer(TrainConfig(**QUIET))
        assert torch.get_num_threads() == 1  # the default (issue 16: many times faster on a busy machine)
        torch.set_num_threads(2)
        Trainer(TrainConfig(threads=None, **QUIET))
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
