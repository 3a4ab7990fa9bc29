"""Reliability (issue 9): no run lost or overwritten, every failure a clear message, NaN and signals handled.

Each section reproduces one of the issue's numbered cases. Most run in-process
(a "kill" is an exception that unwinds nothing the kernel would not: the run's
``flock`` is released either way); the real-process versions are marked slow.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import types
import warnings
from pathlib import Path

import pytest
import torch
from conftest import ROOT
from safetensors.torch import load_file

import dpzoo
from dpzoo import cli, plugin_manager
from dpzoo.files import atomic_write_bytes, temporary_beside
from dpzoo.plugin_manager import PluginWarning
from dpzoo.registry import ShadowWarning
from dpzoo.resume import RunFinished
from dpzoo.trainer import checkpoint as ckpt
from dpzoo.trainer.nonfinite import NonFiniteError
from dpzoo.trainer.recovery import load_checkpoint
from dpzoo.trainer.signals import Interrupted

QUIET = {"progress": False, "device": "cpu"}


def config(tmp_path: Path, name: str, **trainer) -> dict:
    return {
        "model": {"name": "mlp", "hidden": [16], "dropout": 0.1},
        "data": "digits",
        "trainer": {**QUIET, "epochs": 2, **trainer},
        "logdir": str(tmp_path),
        "run_name": name,
    }


def same_weights(a: Path, b: Path) -> bool:
    x, y = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    return x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs in the training code."""


def kill_at(step: int):
    def callback(trainer):
        if trainer.step == step:
            raise Killed

    return callback


def strict_json(path: Path):
    def refuse(constant):
        raise ValueError(f"{path} holds {constant}, which is not JSON")

    return json.loads(path.read_text(), parse_constant=refuse)


# -- 1. a kill during the first checkpoint write ----------------------------------------------
def die_in_first_checkpoint(monkeypatch, run_dir: Path) -> None:
    """Run until the first checkpoint's tensors are half written, then die as SIGKILL would."""

    def torn(tensors, path, metadata=None):
        path.with_name(f".{path.name}.4242.dead.tmp").write_bytes(b"\0" * 64)  # what SIGKILL leaves behind
        raise Killed

    with monkeypatch.context() as patch:
        patch.setattr(ckpt, "atomic_save_tensors", torn)
        with pytest.raises(Killed):
            dpzoo.train(config(run_dir.parent, run_dir.name, checkpoint_every=5))
    assert not any(p.suffix == ".json" for p in (run_dir / "checkpoints").iterdir())


def test_a_run_killed_in_its_first_checkpoint_write_resumes_from_step_0(tmp_path, monkeypatch, capsys):
    straight = dpzoo.train(config(tmp_path, "straight", checkpoint_every=5))
    die_in_first_checkpoint(monkeypatch, tmp_path / "killed")
    resumed = dpzoo.train({"logdir": str(tmp_path)}, resume="killed")
    assert "never completed a checkpoint" in capsys.readouterr().err
    assert resumed.metrics["step"] == straight.metrics["step"]
    assert same_weights(tmp_path / "straight", tmp_path / "killed")
    assert not list((tmp_path / "killed/checkpoints").glob(".*.tmp"))


def test_a_run_killed_in_its_first_checkpoint_write_restarts_under_its_name(tmp_path, monkeypatch, capsys):
    straight = dpzoo.train(config(tmp_path, "straight", checkpoint_every=5))
    die_in_first_checkpoint(monkeypatch, tmp_path / "killed")
    capsys.readouterr()
    restarted = dpzoo.train(config(tmp_path, "killed", checkpoint_every=5))
    assert "starting it afresh" in capsys.readouterr().err
    assert restarted.metrics["step"] == straight.metrics["step"]
    assert same_weights(tmp_path / "straight", tmp_path / "killed")
    assert len(list((tmp_path / "killed").glob("events.out.tfevents.*"))) == 1  # the dead run's events are gone


# -- 2. two runs with the same name; temporary names -----------------------------------------
def test_a_second_process_cannot_train_into_a_running_run(tmp_path):
    refused = []

    def second_attempts(trainer):
        if trainer.step == 3:
            for attempt in (
                lambda: dpzoo.train(config(tmp_path, "same", seed=1)),
                lambda: dpzoo.train({"logdir": str(tmp_path)}, resume="same"),
            ):
                with pytest.raises(dpzoo.ConfigError, match=f"in use by process {os.getpid()}"):
                    attempt()
                refused.append(True)

    dpzoo.train(config(tmp_path, "same"), callbacks=[second_attempts])
    assert refused == [True, True]
    assert json.loads((tmp_path / "same/config.json").read_text())["trainer"]["seed"] == 0


def test_an_existing_run_is_never_replaced(tmp_path):
    dpzoo.train(config(tmp_path, "done", epochs=1))
    before = {p.name: p.read_bytes() for p in (tmp_path / "done").iterdir() if p.is_file()}
    with pytest.raises(dpzoo.ConfigError, match=r"already exists; continue it with `dpzoo train --resume"):
        dpzoo.train(config(tmp_path, "done", epochs=1, seed=3))
    assert {p.name: p.read_bytes() for p in (tmp_path / "done").iterdir() if p.is_file()} == before


def test_a_folder_that_is_not_a_run_is_refused(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine/notes.txt").write_text("keep me")
    with pytest.raises(dpzoo.ConfigError, match="not a dpzoo run"):
        dpzoo.train(config(tmp_path, "mine", epochs=1))
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == [".lock", "notes.txt"]


def test_temporary_names_are_unique_so_concurrent_writers_never_collide(tmp_path):
    target = tmp_path / "metrics.json"
    names = []
    for _ in range(2):
        fd, tmp = temporary_beside(target)
        os.close(fd)
        tmp.unlink()
        names.append(tmp.name)
    assert names[0] != names[1] and all(str(os.getpid()) in name for name in names)
    contents = [json.dumps({"writer": w, "pad": "x" * 50_000}).encode() for w in range(2)]
    failures = []

    def write(data: bytes) -> None:
        try:
            for _ in range(100):
                atomic_write_bytes(target, data)
        except OSError as exc:  # a shared temporary name is renamed away under the other writer
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(c,)) for c in contents]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == [] and target.read_bytes() in contents
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]


@pytest.mark.slow
def test_two_processes_with_one_run_name_one_trains_the_other_is_refused(tmp_path):
    base = [
        sys.executable,
        "-m",
        "dpzoo.cli",
        "train",
        "--model",
        "mlp",
        "--data",
        "digits",
        "--epochs",
        "3",
        "--logdir",
        str(tmp_path),
        "--run-name",
        "same",
    ]
    processes = [
        subprocess.Popen(
            [*base, "--seed", str(seed)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for seed in (1, 2)
    ]
    results = [(p.wait(timeout=300), *p.communicate()) for p in processes]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 2], results
    refused = next(err for code, _, err in results if code == 2)
    assert "in use by process" in refused or "already exists" in refused, refused
    winner = next(seed for seed, (code, _, _) in zip((1, 2), results) if code == 0)
    assert json.loads((tmp_path / "same/config.json").read_text())["trainer"]["seed"] == winner


# -- 3. run names stay inside the logdir -----------------------------------------------------
@pytest.mark.parametrize("name", ["../x", "/tmp/elsewhere", ".", "..", "a/b", "a\\b", ""])
def test_run_names_are_single_folder_names(tmp_path, name):
    logdir = tmp_path / "runs"
    with pytest.raises(dpzoo.ConfigError, match="run_name"):
        dpzoo.train(config(logdir, name, epochs=1))
    assert sorted(p.name for p in tmp_path.iterdir()) in ([], ["runs"])
    assert not logdir.exists() or list(logdir.iterdir()) == []


# -- 4. non-finite losses ----------------------------------------------------------------------
def poison_weights_at(step: int):
    def callback(trainer):
        if trainer.step == step:
            with torch.no_grad():
                next(trainer.model.parameters()).fill_(float("nan"))

    return callback


def test_a_nan_loss_stops_naming_the_step_and_the_last_good_checkpoint(tmp_path):
    run_dir = tmp_path / "nan"
    with pytest.raises(NonFiniteError, match=r"step 13: the training loss is not finite.*step-00000010\.json") as info:
        dpzoo.train(config(tmp_path, "nan", checkpoint_every=5, log_every=50), callbacks=[poison_weights_at(12)])
    assert info.value.exit_code != 0
    assert not (run_dir / "model.safetensors").exists() and not (run_dir / "metrics.json").exists()
    steps = sorted(p.name for p in (run_dir / "checkpoints").glob("step-*.json"))
    assert steps[-1] == "step-00000010.json"  # the checkpoint at step 15 was not written from NaN weights
    _, state = load_checkpoint(run_dir / "checkpoints")
    assert all(bool(torch.isfinite(t).all()) for t in state["model"].values())


def test_lr_inf_exits_non_zero_through_the_cli_without_saving(tmp_path, capsys):
    code = cli.main(
        [
            "train",
            "--model",
            "mlp",
            "--data",
            "digits",
            "--epochs",
            "1",
            "--lr",
            "inf",
            "--device",
            "cpu",
            "--logdir",
            str(tmp_path),
            "--run-name",
            "inf",
        ]
    )
    err = capsys.readouterr().err
    assert code == NonFiniteError.exit_code and "not finite" in err and "--lr" in err and "Traceback" not in err
    assert not (tmp_path / "inf/model.safetensors").exists()


def test_a_finite_runaway_loss_is_said_once(tmp_path, capsys):
    dpzoo.train({**config(tmp_path, "calm", log_every=5)})
    assert "diverging" not in capsys.readouterr().err
    dpzoo.train({**config(tmp_path, "wild", log_every=5), "optimiser": {"name": "adam", "lr": 1e6}})
    err = capsys.readouterr().err
    assert err.count("the training loss is diverging") == 1 and "--lr" in err


def nan_loss_on(calls: set[int]):
    """Cross-entropy that returns NaN on the given call numbers (0-based)."""
    count = {"n": 0}

    def loss(output, batch):
        value = torch.nn.functional.cross_entropy(output, batch["y"])
        n, count["n"] = count["n"], count["n"] + 1
        return value * float("nan") if n in calls else value

    return loss


def test_skip_leaves_the_parameters_of_a_nan_step_untouched_and_counts_it(tmp_path):
    dataset = dpzoo.create("dataset", "digits")
    data = dpzoo.trainer.InMemorySplits.from_dataset_dict(
        dataset.load(), tuple(dataset.columns), torch.device("cpu"), dataset.transform
    )
    torch.manual_seed(0)
    model = dpzoo.create_model("mlp", input_shape=[1, 8, 8], num_classes=10, hidden=[16])
    snapshots = {}

    def snapshot(trainer):
        snapshots[trainer.step] = [p.detach().clone() for p in trainer.model.parameters()]

    trainer = dpzoo.Trainer(
        dpzoo.TrainConfig(**QUIET, max_steps=12, on_nonfinite="skip", log_every=4), callbacks=[snapshot]
    )
    final = trainer.fit(
        model, data, optimisers={"model": torch.optim.Adam(model.parameters(), 0.01)}, loss=nan_loss_on({4, 8})
    )
    assert final["skipped_steps"] == 2
    for skipped in (5, 9):  # call 4 is step 5
        assert all(torch.equal(a, b) for a, b in zip(snapshots[skipped - 1], snapshots[skipped]))
    assert not all(torch.equal(a, b) for a, b in zip(snapshots[5], snapshots[6]))
    assert all(bool(torch.isfinite(p).all()) for p in model.parameters())


def test_ignore_trains_on_and_metrics_json_stays_strict_json(tmp_path):
    result = dpzoo.train(
        {
            **config(tmp_path, "ignored", epochs=1, on_nonfinite="ignore"),
            "optimiser": {"name": "sgd", "lr": float("inf")},
        }
    )
    assert result.metrics["validation/loss"] != result.metrics["validation/loss"]  # NaN in memory
    written = strict_json(tmp_path / "ignored/metrics.json")
    assert written["validation/loss"] is None and written["step"] == result.metrics["step"]


# -- 5. resume with changed options --------------------------------------------------------------
def test_resume_applies_and_records_what_may_change(tmp_path, capsys):
    dpzoo.train(config(tmp_path, "r", epochs=1))
    capsys.readouterr()
    result = dpzoo.train(
        {"trainer": {"epochs": 2}, "optimiser": {"lr": 0.5}, "logdir": str(tmp_path)},
        resume="r",
        command="dpzoo train --resume r --epochs 2 --lr 0.5",
    )
    assert "optimiser.lr 0.001 -> 0.5" in capsys.readouterr().err
    assert result.metrics["epoch"] == 2
    assert [g["lr"] for g in result.trainer.optimisers["model"].param_groups] == [0.5]
    saved = json.loads((tmp_path / "r/config.json").read_text())
    assert saved["trainer"]["epochs"] == 2 and saved["optimiser"]["lr"] == 0.5
    assert saved["resumes"][-1]["command"] == "dpzoo train --resume r --epochs 2 --lr 0.5"
    assert saved["resumes"][-1]["changed"] == {"optimiser.lr": [0.001, 0.5], "trainer.epochs": [1, 2]}
    _, state = load_checkpoint(tmp_path / "r/checkpoints")
    assert state["stepper"]["optimisers"]["model"]["param_groups"][0]["lr"] == 0.5


@pytest.mark.parametrize(
    "change, shown",
    [
        ({"model": {"hidden": [32]}}, r"would change: model.hidden: \[16\] -> \[32\]"),
        ({"model": {"name": "cnn"}}, r"with its model 'mlp', not 'cnn'"),
        ({"trainer": {"seed": 5, "epochs": 3}}, r"would change: trainer.seed: 0 -> 5"),
        ({"data": "mnist"}, r"with its data 'digits', not 'mnist'"),
        ({"trainer": {"batch_size": 8}}, r"would change: trainer.batch_size: 64 -> 8"),
    ],
)
def test_resume_refuses_what_may_not_change_showing_the_difference(tmp_path, change, shown):
    dpzoo.train(config(tmp_path, "r", epochs=1, max_steps=5))
    before = (tmp_path / "r/config.json").read_bytes()
    with pytest.raises(dpzoo.ConfigError, match=shown) as info:
        dpzoo.train({**change, "logdir": str(tmp_path)}, resume="r")
    assert "start a new run" in str(info.value)
    assert (tmp_path / "r/config.json").read_bytes() == before


def test_resume_cannot_change_lr_under_a_scheduler(tmp_path):
    dpzoo.train({**config(tmp_path, "s", epochs=1), "scheduler": "cosine"})
    with pytest.raises(dpzoo.ConfigError, match="follows its scheduler 'cosine'"):
        dpzoo.train({"trainer": {"epochs": 2}, "optimiser": {"lr": 0.5}, "logdir": str(tmp_path)}, resume="s")


# -- 6. recovery from a corrupt or missing last checkpoint -------------------------------------------
def corrupt(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", ["corrupt tensors", "garbage last.json", "missing last.json"])
def test_resume_falls_back_to_the_newest_checkpoint_that_verifies(tmp_path, capsys, damage):
    straight = dpzoo.train(config(tmp_path, "straight", checkpoint_every=5, checkpoint_epochs=0))
    with pytest.raises(Killed):
        dpzoo.train(config(tmp_path, "killed", checkpoint_every=5, checkpoint_epochs=0), callbacks=[kill_at(17)])
    directory = tmp_path / "killed/checkpoints"
    if damage == "corrupt tensors":
        corrupt(directory / "step-00000015.safetensors")
    elif damage == "garbage last.json":
        (directory / "last.json").write_bytes(b'{"step": 15, "tens')
    else:
        (directory / "last.json").unlink()
    capsys.readouterr()
    resumed = dpzoo.train({"logdir": str(tmp_path)}, resume="killed")
    err = capsys.readouterr().err
    if damage == "corrupt tensors":
        assert "step-00000015.safetensors is corrupt" in err and "step 10" in err
    elif damage == "garbage last.json":
        assert "last.json" in err and "not a readable checkpoint record" in err
    assert resumed.metrics["step"] == straight.metrics["step"]
    assert same_weights(tmp_path / "straight", tmp_path / "killed")


def test_when_no_checkpoint_verifies_the_error_lists_each(tmp_path):
    directory = tmp_path / "checkpoints"
    for step in (1, 2):
        ckpt.save_checkpoint(directory, step, {"w": torch.full((4,), float(step))})
    for step in (1, 2):
        corrupt(directory / f"step-{step:08d}.safetensors")
    with pytest.raises(
        dpzoo.IntegrityError, match=r"step-00000002\.safetensors is corrupt.*step-00000001\.safetensors"
    ):
        load_checkpoint(directory)


# -- 7. clear messages at the command line --------------------------------------------------------
def train_cli(capsys, *args: str) -> tuple[int, str]:
    code = cli.main(["train", "--model", "mlp", "--data", "digits", "--epochs", "1", *args])
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"model: [mlp\n", r"line 2, column 1: expected ',' or '\]'"),
        (b"model: mlp\ndata: digits\nmodel: cnn\n", r"line 3, column 1: key 'model' appears twice \(first on line 1\)"),
        (b"model: caf\xe9\n", r"not UTF-8 text \(byte 0xe9 at offset 10\); save it as UTF-8"),
        (b"- mlp\n", r"must hold a mapping"),
    ],
)
def test_config_file_errors_name_the_file_and_the_fix(tmp_path, capsys, content, expected):
    path = tmp_path / "run.yaml"
    path.write_bytes(content)
    code, err = train_cli(capsys, "--config", str(path))
    assert code == 2 and err.count("\n") == 1 and str(path) in err and "Traceback" not in err
    assert re.search(expected, err), err


def test_a_folder_given_as_config_is_named(tmp_path, capsys):
    code, err = train_cli(capsys, "--config", str(tmp_path))
    assert code == 2 and f"--config {tmp_path}: is a folder" in err


@pytest.mark.parametrize("device, hint", [("tpu", ""), ("gpu", "did you mean 'cuda'?"), ("cuda:x", "")])
def test_unknown_devices_are_one_line_with_the_choices(capsys, device, hint):
    code, err = train_cli(capsys, "--device", device)
    assert code == 2 and f"trainer.device: {device!r}" in err and hint in err and "cuda:N or mps" in err


def test_debug_shows_the_traceback(tmp_path, capsys, monkeypatch):
    with pytest.raises(dpzoo.ConfigError, match="is a folder"):
        cli.main(["--debug", "train", "--model", "mlp", "--data", "digits", "--config", str(tmp_path)])
    monkeypatch.setenv("DPZOO_DEBUG", "1")
    with pytest.raises(dpzoo.ConfigError, match="is a folder"):
        cli.main(["train", "--model", "mlp", "--data", "digits", "--config", str(tmp_path)])


def test_argument_errors_are_answered_before_torch_is_imported():
    code = (
        "import sys; from dpzoo.cli import main; codes = [main(['train', '--data', 'digits']), "
        "main(['train', '--model', 'mlp', '--data', 'digits', '--run-name', '../up']), "
        "main(['train', '--model', 'mlp', '--data', 'digits', '--device', 'gpu'])]; "
        "print(codes, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "[2, 2, 2] False", out.stdout + out.stderr
    assert "missing --model" in out.stderr and "single folder name" in out.stderr and "'cuda'" in out.stderr


def test_version_and_argument_errors_load_no_plugin_and_no_torch():
    code = (
        "import sys; from dpzoo.cli import main\n"
        "for argv in (['--version'], ['train', '--epochs', 'x']):\n"
        "    try: main(argv)\n"
        "    except SystemExit as stop: print(stop.code)\n"
        "print(sorted(m for m in sys.modules if m.startswith('dpzoo.plugins.') or m in ('torch', 'datasets')))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.stdout.splitlines() == ["dpzoo " + dpzoo.__version__, "0", "2", "[]"], out.stdout
    assert "invalid int value: 'x'" in out.stderr


@pytest.fixture
def small_filesystem(tmp_path):
    """A 96 KiB tmpfs (root only); skipped where one cannot be mounted."""
    mount = tmp_path / "small"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_is_one_line_and_leaves_no_temporary_files(small_filesystem, capsys):
    code, err = train_cli(
        capsys,
        "--set",
        "model.hidden=[128]",
        "--device",
        "cpu",
        "--set",
        "trainer.progress=false",
        "--logdir",
        str(small_filesystem),
        "--run-name",
        "full",
    )
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert "No space left on device" in err and "--logdir" in err
    assert not [p for p in small_filesystem.rglob("*.tmp")]


def test_a_read_only_disk_is_one_line_on_resume_and_on_a_new_run(small_filesystem, capsys):
    code, _ = train_cli(
        capsys,
        "--set",
        "model.hidden=[4]",
        "--device",
        "cpu",
        "--set",
        "trainer.progress=false",
        "--logdir",
        str(small_filesystem),
        "--run-name",
        "r",
    )
    assert code == 0
    subprocess.run(["mount", "-o", "remount,ro", str(small_filesystem)], check=True)
    code = cli.main(["train", "--resume", str(small_filesystem / "r"), "--epochs", "2"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Read-only file system" in err and ".lock" in err, err
    code, err = train_cli(capsys, "--logdir", str(small_filesystem), "--run-name", "r2")
    assert code == 2 and err.count("\n") == 1 and "read-only" in err and "--logdir" in err, err


# -- 8. plugins cannot take down the host -----------------------------------------------------------
class FakeEntryPoint:
    def __init__(self, name: str, load):
        self.name, self.value, self.group = name, f"{name}.plugin", plugin_manager.ENTRY_POINT_GROUP
        self.dist = types.SimpleNamespace(name=f"{name}-dist", version="1.0")
        self._load = load

    def load(self):
        return self._load()


def models_plugin(*names: str):
    class Plugin:
        @dpzoo.hookimpl
        def dpzoo_register_models(self, register):
            for name in names:
                register(name, "dpzoo.plugins.mlp.model:MLP", summary="an impostor")

    return Plugin()


@pytest.fixture
def hostile(monkeypatch):
    """The installed plugins plus the given fake ones; the real set is reloaded afterwards."""
    real = plugin_manager.entry_points

    def install(*fakes):
        monkeypatch.setattr(
            plugin_manager, "entry_points", lambda group: [*fakes, *real(group=group)]
        )  # fakes found first
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PluginWarning)  # the hostile plugins' own reports are checked below
            dpzoo.reload_plugins()

    yield install
    monkeypatch.undo()
    dpzoo.reload_plugins()


def test_a_builtin_short_name_wins_over_a_plugins_with_a_warning(hostile):
    hostile(FakeEntryPoint("impostor", lambda: models_plugin("mlp")))
    with pytest.warns(ShadowWarning, match="'impostor:mlp'.*using dpzoo's built-in 'mlp:mlp'"):
        entry = dpzoo.get("model", "mlp")
    assert entry.plugin == "mlp" and entry.distribution == "dpzoo"
    assert dpzoo.get("model", "impostor:mlp").plugin == "impostor"
    model = dpzoo.create_model("mlp.digits")  # the pretrained entry builds the built-in architecture
    assert type(model).__module__ == "dpzoo.plugins.mlp.model"


def test_a_third_party_entry_point_cannot_take_a_builtin_plugins_name(hostile):
    hostile(FakeEntryPoint("mlp", lambda: models_plugin("other_model")))
    report = {p["name"]: p for p in dpzoo.list_plugins()}
    assert report["mlp"]["distribution"] == "dpzoo" and report["mlp"]["status"] == "ok"
    assert report["mlp (mlp-dist)"]["status"] == "broken" and "already taken" in report["mlp (mlp-dist)"]["error"]
    assert dpzoo.get("model", "mlp").distribution == "dpzoo"


def test_sys_exit_at_plugin_import_is_contained(hostile, capsys):
    def exits():
        sys.exit("goodbye")

    hostile(FakeEntryPoint("quitter", exits))
    report = {p["name"]: p for p in dpzoo.list_plugins()}
    assert report["quitter"]["status"] == "broken" and "SystemExit: goodbye" in report["quitter"]["error"]
    assert report["mlp"]["status"] == "ok" and cli.main(["list", "--kind", "model"]) == 0
    assert "mlp" in capsys.readouterr().out


def test_ctrl_c_during_plugin_import_still_stops(monkeypatch):
    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(plugin_manager, "entry_points", lambda group: [FakeEntryPoint("slow", interrupted)])
    try:
        with pytest.raises(KeyboardInterrupt):
            dpzoo.reload_plugins()
    finally:
        monkeypatch.undo()
        dpzoo.reload_plugins()


def test_a_plugins_prints_at_import_never_reach_json_output(hostile, capsys):
    def chatty():
        print("hello from a plugin")
        return models_plugin("chatter_model")

    hostile(FakeEntryPoint("chatty", chatty))
    capsys.readouterr()
    for command in (["plugins", "--json"], ["list", "--json"]):
        dpzoo.plugin_manager._host = None  # load again inside the command
        assert cli.main(command) == 0
        out, err = capsys.readouterr()
        json.loads(out)  # nothing but the JSON
        assert "hello from a plugin" in err


# -- 9. SIGTERM and SIGINT ------------------------------------------------------------------------------
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_finishes_the_step_checkpoints_and_names_the_real_path(tmp_path, signum):
    straight = dpzoo.train(config(tmp_path, "straight"))
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}

    def send(trainer):
        if trainer.step == 7:
            os.kill(os.getpid(), signum)

    with pytest.raises(Interrupted) as info:
        dpzoo.train(config(tmp_path, "stopped"), callbacks=[send])
    run_dir = (tmp_path / "stopped").resolve()
    assert info.value.exit_code == 128 + signum and info.value.step == 7
    assert f"dpzoo train --resume {run_dir}" in str(info.value) and signal.Signals(signum).name in str(info.value)
    assert json.loads((run_dir / "checkpoints/last.json").read_text())["step"] == 7
    assert {s: signal.getsignal(s) for s in handlers} == handlers  # the run's handlers are gone with it
    resumed = dpzoo.train({"logdir": str(tmp_path)}, resume="stopped")
    assert resumed.metrics["step"] == straight.metrics["step"]
    assert same_weights(tmp_path / "straight", run_dir)


def test_a_second_ctrl_c_stops_at_once(tmp_path):
    def twice(trainer):
        if trainer.step == 3:
            os.kill(os.getpid(), signal.SIGINT)  # asks for a stop after this step...
            while signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
                time.sleep(0.001)  # (Python runs the handler between bytecodes: two presses, not one merged)
            os.kill(os.getpid(), signal.SIGINT)  # ...and the second one does not wait for it

    # Python's own Ctrl-C handler, whatever this process inherited (`cmd &` in a script starts it ignoring SIGINT)
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            dpzoo.train(config(tmp_path, "twice"), callbacks=[twice])
    finally:
        signal.signal(signal.SIGINT, inherited)
    assert not (tmp_path / "twice/checkpoints").exists() or not list((tmp_path / "twice/checkpoints").glob("*.json"))


@pytest.mark.slow
def test_sigterm_to_the_cli_checkpoints_and_exits_143(tmp_path):
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dpzoo.cli",
            "train",
            "--model",
            "mlp",
            "--data",
            "digits",
            "--epochs",
            "400",
            "--set",
            "trainer.checkpoint_every=20",
            "--logdir",
            str(tmp_path),
            "--run-name",
            "t",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    last = tmp_path / "t/checkpoints/last.json"
    while not last.exists() and process.poll() is None:
        threading.Event().wait(0.02)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 143, err
    step = json.loads(last.read_text())["step"]
    assert f"stopped by SIGTERM after step {step}" in err and f"--resume {(tmp_path / 't').resolve()}" in err
    assert "Traceback" not in err


# -- 10. messages that mislead --------------------------------------------------------------------------
def test_a_nested_unknown_option_lists_that_sections_options(tmp_path):
    with pytest.raises(dpzoo.ConfigError, match="early_stopping.foo: unknown option; valid options: min_delta, mode"):
        dpzoo.train(config(tmp_path, "x", early_stopping={"foo": 1}))


def test_list_with_a_misspelt_kind_names_the_kinds(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["list", "--kind", "models"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "invalid choice: 'models'" in err and "'model'" in err


# -- 11. resuming a finished run --------------------------------------------------------------------------
def test_resuming_a_finished_run_changes_nothing_unless_given_more(tmp_path, capsys):
    dpzoo.train(config(tmp_path, "done", epochs=1))
    run_dir = tmp_path / "done"
    before = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    done = json.loads((run_dir / "metrics.json").read_text())
    code = cli.main(["train", "--resume", str(run_dir)])
    out = capsys.readouterr().out
    assert code == 0 and f"is finished (step {done['step']}, epoch 1); nothing was changed" in out
    assert {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()} == before
    with pytest.raises(RunFinished):
        dpzoo.train({"trainer": {"epochs": 1}, "logdir": str(tmp_path)}, resume="done")
    more = dpzoo.train({"trainer": {"epochs": 2}, "logdir": str(tmp_path)}, resume="done")
    assert more.metrics["epoch"] == 2


# -- 12. smaller items --------------------------------------------------------------------------------------
def test_every_file_of_a_run_has_the_same_permissions(tmp_path):
    dpzoo.train(config(tmp_path, "p", epochs=1))
    run_dir = tmp_path / "p"
    modes = {
        p.relative_to(run_dir).as_posix(): oct(p.stat().st_mode & 0o777)
        for p in run_dir.rglob("*")
        if p.is_file() and p.name != ".lock"
    }
    umask = os.umask(0)
    os.umask(umask)
    assert set(modes.values()) == {oct(0o666 & ~umask)}, modes
    assert "model.safetensors" in modes and "checkpoints/last.json" in modes


def test_seconds_add_up_over_resumes(tmp_path, monkeypatch):
    ticks = iter(range(10**6))
    monkeypatch.setattr(dpzoo.trainer.loop, "time", types.SimpleNamespace(perf_counter=lambda: float(next(ticks))))
    with pytest.raises(Killed):
        dpzoo.train(config(tmp_path, "s", checkpoint_every=5), callbacks=[kill_at(12)])
    _, state = load_checkpoint(tmp_path / "s/checkpoints")
    seconds_at_checkpoint = state["progress"]["seconds"]
    assert state["progress"]["step"] == 10 and seconds_at_checkpoint > 0
    resumed = dpzoo.train({"logdir": str(tmp_path)}, resume="s")
    assert resumed.trainer.seconds_before == seconds_at_checkpoint
    assert resumed.metrics["seconds"] > seconds_at_checkpoint  # the earlier process's time counts too
