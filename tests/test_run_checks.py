"""The run recipe's checks and records: resume errors, optimiser groups, --lr, data without y, plugin switches,
provenance, and TensorBoard values kept across a resume."""

from __future__ import annotations

import json

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn

import dpzoo
from dpzoo import cli
from dpzoo.plugin_manager import PluginHost, PluginWarning

QUIET = {"progress": False, "device": "cpu"}


class Pair(dpzoo.Model):
    """Two parameter groups, each with its own optimiser (manual mode)."""

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
        ctx.optimise("critic", self.d(self(batch).detach()).pow(2).mean())
        ctx.optimise("generator", -self.d(self(batch)).mean())

    def evaluation_step(self, batch, ctx):
        return {"critic_output": self.d(self(batch)).mean()}


class Reconstruct(dpzoo.Model):
    default_loss = {"name": "mse", "target": "x"}
    default_metrics = ()

    def __init__(self, config=None):
        super().__init__(config)
        self.linear = nn.Linear(4, 4)

    def forward(self, batch):
        return self.linear(self.inputs(batch))


class Unlabelled(dpzoo.Dataset):
    """Points with no label column, as an autoencoder's or a density model's data are."""

    columns = ("x",)

    def load(self):
        import datasets

        generator = torch.Generator().manual_seed(0)
        split = lambda n: datasets.Dataset.from_dict({"x": torch.randn(n, 4, generator=generator).numpy()})  # noqa: E731
        return datasets.DatasetDict({"train": split(64), "validation": split(16), "test": split(16)})


@pytest.fixture(autouse=True, scope="module")
def components():
    class Plugin:
        @dpzoo.hookimpl
        def dpzoo_register_models(self, register):
            register("pair", Pair)
            register("reconstruct_points", Reconstruct)

        @dpzoo.hookimpl
        def dpzoo_register_datasets(self, register):
            register("unlabelled", Unlabelled)

    dpzoo.register_plugin(Plugin(), name="test_run_checks")
    yield
    dpzoo.unregister_plugin("test_run_checks")


def run(tmp_path, name, callbacks=(), **config):
    return dpzoo.train(
        {
            "model": "mlp",
            "data": "digits",
            "logdir": str(tmp_path),
            "run_name": name,
            **config,
            "trainer": {**QUIET, **config.get("trainer", {})},
        },
        callbacks=callbacks,
    )


# -- resume ---------------------------------------------------------------------------------
def test_resuming_a_run_without_a_checkpoint_says_so(tmp_path, capsys):
    class Stop(Exception):
        pass

    def stop(trainer):
        raise Stop

    with pytest.raises(Stop):
        run(tmp_path, "early", callbacks=[stop])
    result = dpzoo.train({"logdir": str(tmp_path), "trainer": {"max_steps": 3}}, resume="early")  # issue 9: from step 0
    assert "never completed a checkpoint" in capsys.readouterr().err and result.metrics["step"] == 3


def test_resuming_with_another_model_or_optimiser_is_refused(tmp_path):
    run(tmp_path, "r", trainer={"max_steps": 2})
    with pytest.raises(dpzoo.ConfigError, match=r"with its model 'mlp', not 'cnn'; start a new run"):
        dpzoo.train({"logdir": str(tmp_path), "model": {"name": "cnn"}}, resume="r")
    with pytest.raises(dpzoo.ConfigError, match=r"with its optimiser 'adam', not 'sgd'"):
        dpzoo.train({"logdir": str(tmp_path), "optimiser": {"name": "sgd"}}, resume="r")
    with pytest.raises(dpzoo.ConfigError, match=r"would change: model.hidden: \[.*\] -> \[7\].*start a new run"):
        dpzoo.train({"logdir": str(tmp_path), "model": {"hidden": [7]}}, resume="r")


def test_a_resumed_run_keeps_every_tensorboard_value(tmp_path):
    config = {
        "trainer": {
            "max_steps": 30,
            "log_every": 5,
            "checkpoint_every": 10,
            "checkpoint_epochs": 0,
            "validate_every": 0,
        }
    }
    run(tmp_path, "straight", **config)

    class Killed(Exception):
        pass

    def kill(trainer):
        if trainer.step == 13:
            raise Killed

    with pytest.raises(Killed):
        run(tmp_path, "killed", callbacks=[kill], **config)
    dpzoo.train({"logdir": str(tmp_path)}, resume="killed")

    def losses(name):
        events = EventAccumulator(str(tmp_path / name), size_guidance={"scalars": 0})
        events.Reload()
        return [(e.step, e.value) for e in events.Scalars("train/loss")]

    # the value logged at the checkpoint's step (10) survives; nothing is logged twice; resume is bit-exact
    assert losses("killed") == losses("straight")
    assert [s for s, _ in losses("killed")] == [5, 10, 15, 20, 25, 30]


# -- optimiser groups and --lr ------------------------------------------------------------------
def test_a_misspelt_optimiser_group_is_an_error_with_a_suggestion(tmp_path):
    with pytest.raises(
        dpzoo.ConfigError,
        match=r"optimisers\.generatr: the model has no parameter group 'generatr' "
        r"\(did you mean 'generator'\?\); its groups are generator, critic",
    ):
        run(tmp_path, "g", model="pair", optimisers={"generatr": {"name": "adam"}})


def test_a_group_given_only_options_inherits_the_run_optimiser(tmp_path):
    result = run(
        tmp_path,
        "g",
        model="pair",
        trainer={"max_steps": 2},
        optimiser={"name": "sgd", "lr": 0.1},
        optimisers={"critic": {"lr": 0.5}, "generator": {"name": "adam"}},
    )
    optimisers = result.trainer.optimisers
    assert type(optimisers["critic"]) is torch.optim.SGD and optimisers["critic"].param_groups[0]["lr"] == 0.5
    assert type(optimisers["generator"]) is torch.optim.Adam and optimisers["generator"].param_groups[0]["lr"] == 1e-3
    recorded = json.loads((tmp_path / "g/config.json").read_text())["optimisers"]
    assert recorded["critic"]["name"] == "sgd" and recorded["critic"]["lr"] == 0.5
    with pytest.raises(dpzoo.ConfigError, match=r"with the optimisers \['critic', 'generator'\]; optimisers\.other"):
        dpzoo.train({"logdir": str(tmp_path), "optimisers": {"other": {"lr": 1.0}}}, resume="g")


def test_lr_on_the_command_line_applies_to_every_group_or_is_refused():
    def config(*argv):
        parser = cli.build_parser()
        return cli.run_config_from_args(parser.parse_args(["train", "--model", "pair", "--data", "digits", *argv]))

    assert config("--lr", "0.01", "--set", "optimisers.critic.betas=[0.5,0.9]")["optimiser"]["lr"] == 0.01
    with pytest.raises(dpzoo.ConfigError, match=r"optimisers\.critic\.lr sets its own; drop --lr"):
        config("--lr", "0.01", "--set", "optimisers.critic.lr=0.1")
    with pytest.raises(dpzoo.ConfigError, match=r"optimisers\.critic uses 'sgd', which would not take it"):
        config("--lr", "0.01", "--set", "optimisers.critic.name=sgd")


# -- data without y, provenance -------------------------------------------------------------------
def test_a_dataset_without_y_trains_and_is_fingerprinted(tmp_path):
    result = run(
        tmp_path, "u", model="reconstruct_points", data="unlabelled", trainer={"max_steps": 3, "batch_size": 16}
    )
    config = json.loads((tmp_path / "u/config.json").read_text())
    assert set(config["data_fingerprints"]) == {"train", "validation", "test"}
    assert "test/loss" in result.metrics


def test_config_json_records_the_plugin_behind_every_component(tmp_path):
    run(tmp_path, "p", trainer={"max_steps": 2}, scheduler="cosine", optimiser={"name": "sgd"})
    provenance = json.loads((tmp_path / "p/config.json").read_text())["provenance"]
    from importlib.metadata import version

    ours = {"distribution": "dpzoo", "version": version("dpzoo")}
    assert provenance["model"] == {"name": "mlp:mlp", "plugin": "mlp", **ours}
    assert provenance["data"] == {"name": "data:digits", "plugin": "data", **ours}
    assert provenance["loss"]["plugin"] == "objectives" and provenance["metrics"]["accuracy"]["plugin"] == "objectives"
    assert provenance["optimisers"] == {"model": {"name": "optim:sgd", "plugin": "optim", **ours}}
    assert provenance["scheduler"]["name"] == "optim:cosine"
    run(tmp_path, "q", model="pair", trainer={"max_steps": 2})
    provenance = json.loads((tmp_path / "q/config.json").read_text())["provenance"]
    assert provenance["model"] == {
        "name": "test_run_checks:pair",
        "plugin": "test_run_checks",
        "distribution": None,
        "version": None,
    }
    assert set(provenance["optimisers"]) == {"generator", "critic"}


# -- plugin switches ------------------------------------------------------------------------------------
@pytest.mark.parametrize("variable", ["DPZOO_LOAD_PLUGINS", "DPZOO_DISABLE_PLUGINS"])
def test_an_unknown_name_in_a_plugin_switch_warns_with_the_closest(monkeypatch, variable):
    monkeypatch.setenv(variable, "mpl,data")
    with pytest.warns(
        PluginWarning,
        match=rf"{variable} names 'mpl', which no installed dpzoo plugin is called "
        r"\(did you mean 'mlp'\?\)",
    ):
        PluginHost().load_entry_points()
