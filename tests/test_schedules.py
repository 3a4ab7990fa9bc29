"""Named schedules (core/trainer/schedules.py): each curve against its formula, defaults, logging, resume."""

from __future__ import annotations

import json
import math

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn

import dpzoo
from dpzoo.trainer import InMemorySplits, Schedule, TrainConfig, Trainer
from dpzoo.trainer.schedules import resolve_schedules

QUIET = {"progress": False, "device": "cpu"}
T = 101  # steps in the run
POINTS = [0, 1, 17, 50, 99, 100, 150]  # the start, inside, the last step, past the end


def reference(kind: str, s: int, start=1.0, end=0.0, steps=T, rate=1e-3, floor=0.0, period=1) -> float:
    """The module docstring's formulas, re-derived in float64 with the book's symbols."""
    f = min(s / (steps - 1), 1.0)
    return {
        "constant": lambda: start,
        "linear": lambda: start + (end - start) * f,
        "cosine": lambda: end + (start - end) * (1 + math.cos(math.pi * f)) / 2,
        "exponential": lambda: start * (end / start) ** f,
        "exponential_floor": lambda: max(floor, start * math.exp(-rate * period * (s // period))),
        "warmup": lambda: end * min(s / steps, 1.0),
    }[kind]()


@pytest.mark.parametrize(
    "kind, options",
    [
        ("constant", {"start": 0.7}),
        ("linear", {"start": 0.0, "end": 2.0}),
        ("cosine", {"start": 1.0, "end": 0.1}),
        ("exponential", {"start": 1.0, "end": 0.01}),
        ("exponential_floor", {"start": 1.0, "rate": 3e-2, "floor": 0.5, "period": 7}),
        ("warmup", {"end": 1.0, "steps": 40}),
    ],
)
def test_each_curve_equals_its_formula_at_several_points(kind, options):
    schedule = Schedule(kind=kind, **options)
    for s in POINTS:
        assert schedule.at(s, T) == pytest.approx(
            reference(kind, s, **{"steps": T, **options}), rel=1e-12, abs=1e-15
        ), s


def test_gumbel_softmax_annealing_holds_between_updates_and_stops_at_the_floor():
    schedule = Schedule(kind="exponential_floor", start=1.0, rate=1e-2, floor=0.5, period=10)
    values = [schedule.at(s, 1000) for s in range(200)]
    assert len(set(values[:10])) == 1 and values[10] < values[9]  # updated every period steps only
    assert min(values) == 0.5 and values[-1] == 0.5  # exp(-0.01 * 190) < 0.5: held at the floor


def test_an_exponential_to_zero_is_refused_with_the_fix():
    with pytest.raises(dpzoo.ConfigError, match="exponential_floor or linear"):
        dpzoo.config.validate(Schedule, {"kind": "exponential", "end": 0.0}, "trainer.schedules.beta")


def test_the_users_keys_override_the_models_defaults_one_by_one():
    defaults = {"beta": {"kind": "warmup", "end": 1.0, "steps": 500}, "tau": {"kind": "constant", "start": 2.0}}
    user = TrainConfig.model_validate({"schedules": {"beta": {"end": 4.0}, "gamma": {"kind": "linear"}}}).schedules
    resolved = resolve_schedules(defaults, user)
    assert resolved["beta"] == Schedule(kind="warmup", end=4.0, steps=500)  # kind and steps kept, end overridden
    assert resolved["tau"] == Schedule(kind="constant", start=2.0)
    assert resolved["gamma"] == Schedule(kind="linear")


@pytest.fixture(scope="module")
def digits() -> InMemorySplits:
    dataset = dpzoo.create("dataset", "digits")
    return InMemorySplits.from_dataset_dict(
        dataset.load(), tuple(dataset.columns), torch.device("cpu"), dataset.transform
    )


class Annealed(dpzoo.Model):
    """An automatic-mode model with a KL-style weight beta (a plain attribute) and a buffer tau."""

    default_loss = "cross_entropy"
    default_metrics = ()
    default_schedules = {"beta": {"kind": "warmup", "end": 1.0, "steps": 10}}

    def __init__(self, config=None):
        super().__init__(config)
        self.linear = nn.Linear(64, 10)
        self.beta = 0.0
        self.register_buffer("tau", torch.tensor(5.0))
        self.seen: list[tuple[float, float]] = []

    def forward(self, batch):
        if self.training:
            self.seen.append((self.beta, float(self.tau)))
        return self.linear(self.inputs(batch).flatten(1))


def test_the_trainer_sets_model_attributes_before_each_step_and_ctx_reads_them(digits):
    model = Annealed()
    cfg = TrainConfig(
        max_steps=12,
        validate_every=0,
        test=False,
        schedules={"tau": {"kind": "linear", "start": 1.0, "end": 0.0}},
        **QUIET,
    )
    trainer = Trainer(cfg)
    trainer.fit(
        model,
        digits,
        optimisers={"model": torch.optim.SGD(model.parameters(), lr=0.1)},
        loss=dpzoo.create("loss", "cross_entropy"),
    )
    assert [b for b, _ in model.seen] == pytest.approx([min(s / 10, 1.0) for s in range(12)])
    assert [t for _, t in model.seen] == pytest.approx([1.0 - s / 11 for s in range(12)])
    assert model.tau.dtype == torch.float32 and trainer.ctx.schedule("beta") == 1.0
    with pytest.raises(dpzoo.ConfigError, match=r"no schedule named 'gamma'.*trainer\.schedules\.gamma\.kind"):
        trainer.ctx.schedule("gamma")


@pytest.fixture
def annealed_plugin():
    class Plugin:
        @dpzoo.hookimpl
        def dpzoo_register_models(self, register):
            register("annealed", Annealed)

    dpzoo.register_plugin(Plugin(), name="test_annealed")
    yield
    dpzoo.unregister_plugin("test_annealed")


def test_schedules_are_logged_recorded_and_restored_on_resume(tmp_path, annealed_plugin):
    config = {
        "model": "annealed",
        "data": "digits",
        "logdir": str(tmp_path),
        "trainer": {
            **QUIET,
            "max_steps": 30,
            "log_every": 5,
            "checkpoint_every": 10,
            "checkpoint_epochs": 0,
            "schedules": {"tau": {"kind": "cosine", "start": 2.0, "end": 0.5}},
        },
    }
    dpzoo.train({**config, "run_name": "r"})
    recorded = json.loads((tmp_path / "r/config.json").read_text())["trainer"]["schedules"]
    assert recorded["beta"]["kind"] == "warmup" and recorded["tau"]["kind"] == "cosine"
    events = EventAccumulator(str(tmp_path / "r"), size_guidance={"scalars": 0})
    events.Reload()
    beta = {e.step: e.value for e in events.Scalars("train/beta")}
    tau = {e.step: e.value for e in events.Scalars("train/tau")}
    # logged after step s, the value is the one step s - 1 trained with
    assert beta == pytest.approx({s: min((s - 1) / 10, 1.0) for s in range(5, 31, 5)})
    assert tau == pytest.approx({s: reference("cosine", s - 1, 2.0, 0.5, 30) for s in range(5, 31, 5)}, rel=1e-6)

    class Stop(Exception):
        pass

    def stop_at_15(trainer):
        if trainer.step == 15:
            raise Stop

    with pytest.raises(Stop):
        dpzoo.train({**config, "run_name": "k"}, callbacks=[stop_at_15])
    restored = []

    def first_values(trainer):
        if not restored:
            restored.append(dict(trainer.schedule_values))

    # the checkpoint at step 10 holds the values step 9 trained with; the resumed run starts from them
    from dpzoo.trainer.recovery import load_checkpoint

    _, state = load_checkpoint(tmp_path / "k/checkpoints")
    assert state["progress"]["schedules"]["beta"] == pytest.approx(0.9)
    resumed = dpzoo.train({"logdir": str(tmp_path)}, resume="k", callbacks=[first_values])
    assert restored[0]["beta"] == pytest.approx(1.0)  # step 10's value: the curve continues where it stopped
    assert resumed.model.beta == 1.0

    # resuming the finished run takes no step and changes nothing: it says so (issue 9)
    from dpzoo.resume import RunFinished

    with pytest.raises(RunFinished, match="is finished"):
        dpzoo.train({"logdir": str(tmp_path)}, resume="r")


def test_the_old_temperature_option_becomes_the_temperature_schedule(digits):
    wrapper = Annealed()
    wrapper.temperature = None
    seen = []
    cfg = TrainConfig(max_steps=5, temperature={"start": 1.0, "end": 0.01}, validate_every=0, test=False, **QUIET)
    assert cfg.schedules["temperature"] == Schedule(kind="exponential", start=1.0, end=0.01)
    Trainer(cfg, callbacks=[lambda t: seen.append(t.model.temperature)]).fit(
        wrapper,
        digits,
        optimisers={"model": torch.optim.SGD(wrapper.parameters(), lr=0.1)},
        loss=dpzoo.create("loss", "cross_entropy"),
    )
    assert seen == pytest.approx([0.01 ** (s / 4) for s in range(5)])


def test_a_misspelt_schedule_key_names_the_closest_option():
    with pytest.raises(
        dpzoo.ConfigError,
        match=r"schedules\.beta\.strat: unknown option \(did you mean 'start'\?\); "
        r"valid options: end, floor, kind",
    ):
        dpzoo.config.validate(TrainConfig, {"schedules": {"beta": {"strat": 0.0}}}, "trainer")


def test_a_schedule_an_automatic_model_cannot_read_is_refused_with_the_closest_name(tmp_path):
    """A misspelt schedule name would otherwise train silently with the model's own value left in place."""
    with pytest.raises(dpzoo.ConfigError, match=r"trainer\.schedules\.bta: .*did you mean trainer\.schedules\.beta\?"):
        dpzoo.train(
            {
                "model": {"name": "vae"},
                "data": {"name": "binarised_digits"},
                "logdir": str(tmp_path),
                "trainer": {"max_steps": 1, "schedules": {"bta": {"kind": "warmup"}}},
            }
        )
    with pytest.raises(dpzoo.ConfigError, match=r"trainer\.schedules\.beta: model MLP .*declares no schedules"):
        dpzoo.train(
            {
                "model": {"name": "mlp"},
                "data": {"name": "digits"},
                "logdir": str(tmp_path),
                "trainer": {"max_steps": 1, "schedules": {"beta": {"kind": "warmup"}}},
            }
        )
    assert not list(tmp_path.iterdir())  # refused before any run folder was made
