"""The terminal: per-epoch lines without a terminal, defaults in --help and info, helpful --set and list errors."""

from __future__ import annotations

import argparse
import os
import pty
import re

import pytest

import dpzoo
from dpzoo.cli import build_parser, main
from dpzoo.describe import typed
from dpzoo.train_command import TRAIN_FLAGS
from dpzoo.trainer.config import TrainConfig
from dpzoo.trainer.epoch_lines import wanted

LINE = re.compile(r"^epoch (\d+)/3  step (\d+)/(\d+)  train/loss \S+  .*validation/accuracy (\S+)  [\d.]+s$")


def train(tmp_path, name: str, **trainer):
    return dpzoo.train(
        {
            "model": {"name": "mlp", "hidden": [16]},
            "data": "digits",
            "logdir": str(tmp_path),
            "run_name": name,
            "trainer": {"device": "cpu", "threads": 1, "epochs": 3, **trainer},
        }
    )


# -- one line per epoch when stderr is not a terminal ------------------------------------------
def test_without_a_terminal_each_epoch_prints_one_line_with_its_losses_and_validation(tmp_path, capfd):
    result = train(tmp_path, "lines")
    lines = [m for m in map(LINE.match, capfd.readouterr().err.splitlines()) if m]
    assert [int(m.group(1)) for m in lines] == [1, 2, 3]
    total = result.metrics["step"]
    assert [int(m.group(2)) for m in lines] == [total // 3, 2 * total // 3, total]
    assert {int(m.group(3)) for m in lines} == {total}
    evaluated = [h["validation/accuracy"] for h in result.trainer.history if "validation/accuracy" in h]
    assert [float(m.group(4)) for m in lines] == pytest.approx(evaluated, abs=5e-5)  # printed to 4 decimals


def test_an_epoch_line_says_when_its_training_values_were_logged_before_the_epoch_ended(tmp_path, capfd):
    """Epochs of 20 steps, training values logged every 15: the line must not pass step 15's loss off as step 20's."""
    train(tmp_path, "stale", log_every=15)
    lines = [line for line in capfd.readouterr().err.splitlines() if LINE.match(line)]
    assert len(lines) == 3
    assert "(train logged at step 15)" in lines[0]
    assert "(train logged at step 30)" in lines[1]
    assert "logged at step" not in lines[2]  # step 60 is a logging step: the values are the epoch's own


def test_progress_false_prints_no_epoch_lines(tmp_path, capfd):
    train(tmp_path, "quiet", progress=False)
    assert not any(LINE.match(line) for line in capfd.readouterr().err.splitlines())


def test_on_a_terminal_the_bar_is_shown_instead_of_lines():
    leader, follower = pty.openpty()
    try:
        with os.fdopen(follower, "w", closefd=False) as terminal:
            assert not wanted(None, terminal)  # a real tty: the progress bar's place
    finally:
        os.close(leader)
        os.close(follower)
    with open(os.devnull, "w") as log:
        assert wanted(None, log) and not wanted(False, log) and not wanted(True, log)


# -- --help shows every default ---------------------------------------------------------------
def parsers(parser: argparse.ArgumentParser, path: str = "dpzoo"):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from parsers(child, f"{path} {name}")


def test_every_option_with_a_default_shows_it_in_help():
    for path, parser in parsers(build_parser()):
        for action in parser._actions:
            if action.default in (None, False, argparse.SUPPRESS, []) or action.help == argparse.SUPPRESS:
                continue
            if isinstance(action, (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)):
                continue
            shown = " ".join(parser._get_formatter()._expand_help(action).split())
            assert "default" in shown and str(action.default) in shown, f"{path} {action.dest}: {shown}"


def test_the_train_flags_show_the_trainers_real_defaults():
    train_parser = dict(parsers(build_parser()))["dpzoo train"]
    helps = {a.dest: " ".join((a.help or "").split()) for a in train_parser._actions}
    for flag, key in TRAIN_FLAGS.items():
        if key.startswith("trainer."):
            default = TrainConfig.model_fields[key.split(".", 1)[1]].default
            assert f"(default: {'none' if default is None else default})" in helps[flag], flag


# -- dpzoo info ---------------------------------------------------------------------------------
def test_info_trainer_lists_every_trainer_option_with_default_and_description(capsys):
    assert main(["info", "trainer"]) == 0
    out = capsys.readouterr().out
    for name, field in TrainConfig.model_fields.items():
        line = next(line for line in out.splitlines() if line.strip().startswith(f"trainer.{name} = "))
        assert f"trainer.{name} = {typed(field.get_default())}" in line and field.description in line
    assert "trainer.early_stopping.patience = 5" in out and "trainer.schedules.<name>.kind = constant" in out
    assert "[--epochs]" in out


def test_info_of_a_model_reads_well_and_points_to_the_trainer(capsys):
    assert main(["info", "mlp"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("mlp: model from plugin mlp, ")
    assert "mlp:mlp:" not in out
    assert "model.hidden = [128]" in out and "model.residual = false" in out  # as typed after --set
    assert "dpzoo info trainer" in out


# -- --set and wildcards ------------------------------------------------------------------------
def test_a_scalar_for_a_list_option_says_to_write_brackets(tmp_path, capsys):
    code = main(["train", "--model", "mlp", "--data", "digits", "--set", "model.hidden=256", "--logdir", str(tmp_path)])
    assert code == 2
    assert "write it in brackets: --set model.hidden=[256]" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # refused before a run folder was made


def test_a_wildcard_that_matches_nothing_says_so(capsys):
    assert main(["list", "xyz*"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "no component matches 'xyz*'" in captured.err
    assert main(["list", "mpl", "--kind", "model"]) == 1
    err = capsys.readouterr().err
    assert "no model matches 'mpl'" in err and "did you mean mlp?" in err and "'*mpl*'" in err
    assert main(["list", "ml*", "--kind", "model"]) == 0 and "mlp" in capsys.readouterr().out
