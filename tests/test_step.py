"""The optimiser step (core/trainer/step.py): own-parameter backward, accumulation, fp16 scaling, schedules, resume."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn

import dpzoo
from dpzoo.trainer import InMemorySplits, TrainConfig, Trainer
from dpzoo.trainer.step import Stepper

QUIET = {"progress": False, "device": "cpu", "validate_every": 0, "test": False}


@pytest.fixture(scope="module")
def digits() -> InMemorySplits:
    dataset = dpzoo.create("dataset", "digits")
    return InMemorySplits.from_dataset_dict(
        dataset.load(), tuple(dataset.columns), torch.device("cpu"), dataset.transform
    )


class Adversaries(dpzoo.Model):
    """A GAN's shape: the generator's loss runs through the critic, whose parameters it must not touch.

    ``critic_every``/``generator_every``: a phase runs on batches whose index is a multiple of it
    (a skipped optimiser); ``generator_calls``: how many times the generator is optimised per batch.
    """

    def __init__(self, critic_every=1, generator_every=1, generator_calls=1, watch=False):
        super().__init__()
        torch.manual_seed(0)
        self.g = nn.Linear(64, 10)
        self.d = nn.Linear(10, 1)
        self.critic_every, self.generator_every, self.generator_calls = critic_every, generator_every, generator_calls
        self.watch, self.batch_index, self.leaks = watch, 0, []

    def parameter_groups(self):
        return {"generator": list(self.g.parameters()), "critic": list(self.d.parameters())}

    def forward(self, batch):
        return self.g(self.inputs(batch).flatten(1))

    def critic_loss(self, batch):
        fake = self(batch).detach()
        return self.d(fake).mean() ** 2 + self.d(fake).mean()

    def generator_loss(self, batch):
        return -self.d(self(batch)).pow(2).mean()  # reaches the critic's parameters too

    def _phase(self, ctx, name, loss, other):
        before = [p.detach().clone() for p in other.parameters()]
        grads = [None if p.grad is None else p.grad.clone() for p in other.parameters()]
        ctx.optimise(name, loss)
        if self.watch:  # the other network's weights and gradients, bit for bit
            same = all(torch.equal(a, p) for a, p in zip(before, other.parameters()))
            same_grads = all(
                (a is None and p.grad is None) or (a is not None and p.grad is not None and torch.equal(a, p.grad))
                for a, p in zip(grads, other.parameters())
            )
            self.leaks.append((name, same, same_grads))

    def training_step(self, batch, ctx):
        i, self.batch_index = self.batch_index, self.batch_index + 1
        if i % self.critic_every == 0:
            with ctx.autocast():  # forward under trainer.precision, backward outside
                loss = self.critic_loss(batch)
            self._phase(ctx, "critic", loss, self.g)
        if i % self.generator_every == 0:
            for _ in range(self.generator_calls):
                with ctx.autocast():
                    loss = self.generator_loss(batch)
                self._phase(ctx, "generator", loss, self.d)


def reference_weights(digits, accumulate, steps, lr=0.1, batch_size=16):
    """The same run by hand: each loss differentiated only with respect to its own network (autograd.grad)."""
    model = Adversaries()
    optimisers = {
        "critic": torch.optim.SGD(model.d.parameters(), lr=lr),
        "generator": torch.optim.SGD(model.g.parameters(), lr=lr),
    }
    sums: dict[str, list | None] = {"critic": None, "generator": None}
    calls = {"critic": 0, "generator": 0}
    for index in digits.epoch_order(0, 0, batch_size, False)[:steps]:
        batch = digits.gather("train", index)
        for name, net, loss_fn in (
            ("critic", model.d, model.critic_loss),
            ("generator", model.g, model.generator_loss),
        ):
            loss = loss_fn(batch) / accumulate if accumulate > 1 else loss_fn(batch)
            grads = torch.autograd.grad(loss, list(net.parameters()))
            sums[name] = list(grads) if sums[name] is None else [a + b for a, b in zip(sums[name], grads)]
            calls[name] += 1
            if calls[name] % accumulate == 0:
                for p, g in zip(net.parameters(), sums[name]):
                    p.grad = g
                optimisers[name].step()
                sums[name] = None
    return model.state_dict()


@pytest.mark.parametrize("accumulate", [1, 2])
def test_each_phase_changes_only_its_own_parameters_bit_for_bit(digits, accumulate):
    model = Adversaries(watch=True)
    optimisers = {n: torch.optim.SGD(p, lr=0.1) for n, p in model.parameter_groups().items()}
    Trainer(TrainConfig(max_steps=6, batch_size=16, accumulate=accumulate, **QUIET)).fit(
        model, digits, optimisers=optimisers
    )
    assert len(model.leaks) == 12 and all(same and same_grads for _, same, same_grads in model.leaks), model.leaks
    expected = reference_weights(digits, accumulate, steps=6)
    for name, value in model.state_dict().items():
        assert torch.equal(value, expected[name]), name


def test_a_loss_output_is_optimised_and_its_terms_logged(digits, tmp_path):
    class WithTerms(Adversaries):
        def training_step(self, batch, ctx):
            critic = self.critic_loss(batch)
            ctx.optimise("critic", dpzoo.LossOutput(critic, {"critic_term": critic.detach()}))
            ctx.optimise("generator", self.generator_loss(batch))

    model = WithTerms()
    optimisers = {n: torch.optim.SGD(p, lr=0.1) for n, p in model.parameter_groups().items()}
    Trainer(TrainConfig(max_steps=4, batch_size=16, log_every=2, **QUIET), run_dir=tmp_path).fit(
        model, digits, optimisers=optimisers
    )
    events = EventAccumulator(str(tmp_path), size_guidance={"scalars": 0})
    events.Reload()
    assert [e.step for e in events.Scalars("train/critic_term")] == [2, 4]
    for name, value in model.state_dict().items():
        assert torch.equal(value, reference_weights(digits, 1, steps=4)[name]), name


def counted_updates(stepper: Stepper) -> dict[str, list[int]]:
    """Wrap each scaler's update() to record the optimiser's step count each time it runs."""
    seen: dict[str, list[int]] = {}
    for name, scaler in stepper.scalers.items():
        seen[name] = []
        update = scaler.update

        def counting(new_scale=None, _name=name, _update=update):
            seen[_name].append(stepper.steps[_name])
            _update(new_scale)

        scaler.update = counting
    return seen


@pytest.mark.parametrize(
    "options, accumulate, steps, expected",
    [
        ({}, 3, 9, {"critic": 3, "generator": 3}),  # accumulation: one update per window
        ({"generator_every": 3}, 1, 9, {"critic": 9, "generator": 3}),  # a skipped optimiser
        ({"generator_calls": 2}, 1, 5, {"critic": 5, "generator": 10}),  # two calls per batch (truncated BPTT)
        ({"critic_every": 2, "generator_calls": 2}, 2, 8, {"critic": 2, "generator": 8}),  # all at once
    ],
)
def test_fp16_scaler_updates_once_after_each_real_step(digits, options, accumulate, steps, expected):
    model = Adversaries(**options)
    optimisers = {n: torch.optim.SGD(p, lr=0.1) for n, p in model.parameter_groups().items()}
    trainer = Trainer(TrainConfig(max_steps=steps, batch_size=16, accumulate=accumulate, precision="fp16", **QUIET))
    seen = {}

    def watch(t):  # installed after fit builds the stepper, before the second batch
        if not seen:
            seen.update(counted_updates(t.stepper))

    trainer.callbacks.append(watch)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainer.fit(model, digits, optimisers=optimisers)
    assert trainer.optimiser_steps == expected
    first = {n: expected[n] - len(seen[n]) for n in seen}  # steps taken before the counter was installed
    for name, counts in seen.items():
        assert counts == list(range(first[name] + 1, expected[name] + 1)), name  # once, right after each step
    # the generator trained (a scaler skips a step whose gradients overflowed, and then lowers its scale)
    assert not torch.equal(before["g.weight"], model.g.weight)
    assert all(s.get_scale() > 0 for s in trainer.stepper.scalers.values())
    assert model.g.weight.dtype == torch.float32  # autocast computes in fp16; the weights stay fp32


def test_fp16_autocast_with_accumulation_in_automatic_mode(digits):
    seen = []
    torch.manual_seed(0)
    model = dpzoo.create_model("mlp", input_shape=[1, 8, 8], num_classes=10, hidden=[16])
    model.output.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    trainer = Trainer(TrainConfig(max_steps=9, batch_size=32, accumulate=3, precision="fp16", **QUIET))
    trainer.fit(
        model,
        digits,
        optimisers={"model": torch.optim.SGD(model.parameters(), lr=0.1)},
        loss=dpzoo.create("loss", "cross_entropy"),
    )
    assert set(seen) == {torch.float16} and trainer.optimiser_steps == {"model": 3}
    assert trainer.stepper.scalers["model"].get_scale() > 0


def test_a_learning_rate_schedule_steps_once_per_optimiser_step(tmp_path):
    class Twice(Adversaries):
        optimiser_steps_per_batch = {"generator": 2}

        def __init__(self, config=None):
            super().__init__(generator_calls=2)

    class Plugin:
        @dpzoo.hookimpl
        def dpzoo_register_models(self, register):
            register("twice", Twice)

    dpzoo.register_plugin(Plugin(), name="test_twice")
    try:
        result = dpzoo.train(
            {
                "model": "twice",
                "data": "digits",
                "optimiser": {"name": "sgd", "lr": 0.1},
                "scheduler": {"name": "cosine", "min_lr": 0.01},
                "trainer": {**QUIET, "max_steps": 12, "accumulate": 2, "batch_size": 16, "log_every": 1},
                "logdir": str(tmp_path),
                "run_name": "s",
            }
        )
    finally:
        dpzoo.unregister_plugin("test_twice")
    trainer = result.trainer
    # the generator: 2 calls x 12 batches / accumulate 2 = 12 steps; the critic: 12 / 2 = 6
    assert trainer.optimiser_steps == {"critic": 6, "generator": 12}
    assert {n: s.total_steps for n, s in trainer.schedulers.items()} == {"critic": 6, "generator": 12}
    assert {n: s.last_epoch for n, s in trainer.schedulers.items()} == {"critic": 6, "generator": 12}
    events = EventAccumulator(str(tmp_path / "s"), size_guidance={"scalars": 0})
    events.Reload()
    critic = [e.value for e in events.Scalars("train/lr/critic")]
    # stepped only at the critic's own steps (every 2nd batch), each a point of its 6-step cosine
    cosine = trainer.schedulers["critic"]
    assert critic == pytest.approx([cosine.lr_at(b // 2, 0.1) for b in range(1, 13)])
    assert critic[-1] == pytest.approx(0.01)


def test_resume_after_a_kill_is_bit_exact_with_accumulation(tmp_path):
    """20 steps per epoch, accumulate=3: the checkpoint due at step 25 waits for the window's end at 27."""
    config = {
        "model": {"name": "mlp", "hidden": [32], "dropout": 0.2},
        "data": "digits",
        "scheduler": "cosine",
        "trainer": {**QUIET, "epochs": 3, "accumulate": 3, "checkpoint_every": 25, "checkpoint_epochs": 0},
        "logdir": str(tmp_path),
    }
    dpzoo.train({**config, "run_name": "straight"})

    class Killed(Exception):
        pass

    def kill(trainer):
        if trainer.step == 33:
            raise Killed

    with pytest.raises(Killed):
        dpzoo.train({**config, "run_name": "killed"}, callbacks=[kill])
    assert json.loads((tmp_path / "killed/checkpoints/last.json").read_text())["step"] == 27
    dpzoo.train({"logdir": str(tmp_path)}, resume="killed")
    a, b = load_file(tmp_path / "straight/model.safetensors"), load_file(tmp_path / "killed/model.safetensors")
    for name in a:
        assert torch.equal(a[name], b[name]), name


def test_an_unknown_optimiser_name_in_ctx_optimise_names_the_groups(digits):
    class Misnamed(Adversaries):
        def training_step(self, batch, ctx):
            ctx.optimise("generatr", self.generator_loss(batch))

    model = Misnamed()
    optimisers = {n: torch.optim.SGD(p, lr=0.1) for n, p in model.parameter_groups().items()}
    with pytest.raises(
        dpzoo.ConfigError, match=r"no optimiser named 'generatr'.*\['critic', 'generator'\].*parameter_groups"
    ):
        Trainer(TrainConfig(max_steps=1, **QUIET)).fit(model, digits, optimisers=optimisers)
