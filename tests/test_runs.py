"""``dpzoo runs``: each kind of run (finished, interrupted, running, broken) is shown as what it is."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import dpzoo
from dpzoo.cli import main
from dpzoo.trainer.signals import Interrupted

# a process that takes a run's lock as the trainer does, says so, and keeps it until its stdin closes or it dies
HOLD_THE_LOCK = (
    "import sys; from dpzoo.rundir import RunLock; lock = RunLock.acquire(sys.argv[1]); "
    "print('locked', flush=True); sys.stdin.read()"
)
QUIET = {"progress": False, "device": "cpu", "threads": 1, "batch_size": 256}


def config(logdir: Path, name: str, **trainer) -> dict:
    return {
        "model": {"name": "mlp", "hidden": [16]},
        "data": "digits",
        "trainer": {**QUIET, **trainer},
        "logdir": str(logdir),
        "run_name": name,
    }


def signal_at(step: int):
    """A callback that sends this process SIGTERM after ``step``: the trainer checkpoints and stops."""

    def callback(trainer) -> None:
        if trainer.step == step:
            os.kill(os.getpid(), signal.SIGTERM)

    return callback


def corrupt_tensors(run_dir: Path) -> None:
    for path in (run_dir / "checkpoints").glob("*.safetensors"):
        data = bytearray(path.read_bytes())
        data[-1] ^= 0xFF
        path.write_bytes(bytes(data))


@pytest.fixture(scope="module")
def logdir(tmp_path_factory) -> Path:
    """finished ``done``; ``stopped`` by SIGTERM at step 8 of 18; ``corrupt`` and ``missing``: copies of it broken."""
    root = tmp_path_factory.mktemp("runs")
    dpzoo.train(config(root, "done", epochs=2))
    with pytest.raises(Interrupted):
        dpzoo.train(config(root, "stopped", epochs=3), callbacks=[signal_at(8)])
    shutil.copytree(root / "stopped", root / "corrupt")
    corrupt_tensors(root / "corrupt")
    shutil.copytree(root / "stopped", root / "missing")
    for path in (root / "missing" / "checkpoints").glob("*.safetensors"):
        path.unlink()
    (root / "not-a-run").mkdir()  # a folder without a run's files is not listed
    return root


def runs_json(logdir: Path, capsys, *extra: str) -> list[dict]:
    capsys.readouterr()
    assert main(["runs", str(logdir), "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)


def by_name(rows: list[dict]) -> dict[str, dict]:
    return {row["name"]: row for row in rows}


def test_finished_interrupted_and_broken_runs_are_told_apart(logdir, capsys):
    rows = by_name(runs_json(logdir, capsys))
    assert set(rows) == {"done", "stopped", "corrupt", "missing"}
    assert {name: row["status"] for name, row in rows.items()} == {
        "done": "finished",
        "stopped": "interrupted",
        "corrupt": "broken",
        "missing": "broken",
    }

    done = rows["done"]
    final = json.loads((logdir / "done" / "metrics.json").read_text())
    assert (done["model"], done["data"]) == ("mlp", "digits")
    assert done["step"] == done["total_steps"] == final["step"]
    assert done["metrics"] == pytest.approx({k: v for k, v in final.items() if k.startswith(("validation/", "test/"))})
    assert {"validation/accuracy", "test/accuracy"} <= set(done["metrics"])

    stopped = rows["stopped"]
    assert stopped["step"] == 8 and stopped["total_steps"] == 3 * done["total_steps"] // 2  # 3 epochs, not 2
    assert "--resume" in stopped["reason"]
    # its latest evaluation is epoch 1's validation; it never reached the test split
    assert "validation/accuracy" in stopped["metrics"] and not any(k.startswith("test/") for k in stopped["metrics"])

    assert "corrupt" in rows["corrupt"]["reason"] and "missing" in rows["missing"]["reason"]


def test_the_table_shows_each_run_its_status_and_steps(logdir, capsys):
    capsys.readouterr()
    assert main(["runs", str(logdir)]) == 0
    out = capsys.readouterr().out
    lines = {
        line.split()[0]: line.split()
        for line in out.splitlines()[1:]
        if line.split()[0] in {"done", "stopped", "corrupt", "missing"}
    }
    header = out.splitlines()[0].split()
    assert header[:5] == ["run", "model", "data", "steps", "status"] and header[-1] == "age"
    rows = by_name(runs_json(logdir, capsys))
    total, stopped_total = rows["done"]["total_steps"], rows["stopped"]["total_steps"]
    assert lines["done"][3:5] == [f"{total}/{total}", "finished"]
    assert lines["stopped"][3:5] == [f"8/{stopped_total}", "interrupted"]
    assert lines["corrupt"][4] == "broken" and "corrupt: broken: no checkpoint verifies" in out


def test_sort_puts_the_best_run_first_and_refuses_an_unknown_metric(logdir, capsys):
    rows = runs_json(logdir, capsys, "--sort", "validation/accuracy")
    values = [r["metrics"]["validation/accuracy"] for r in rows]
    assert values == sorted(values, reverse=True)  # accuracy: higher is better
    losses = [r["metrics"]["validation/loss"] for r in runs_json(logdir, capsys, "--sort", "validation/loss")]
    assert losses == sorted(losses)  # a loss: lower is better
    assert main(["runs", str(logdir), "--sort", "validation/acuracy"]) == 2
    assert "did you mean 'validation/accuracy'" in capsys.readouterr().err


def test_a_run_whose_lock_a_live_process_holds_is_running_until_that_process_dies(logdir, capsys, tmp_path):
    run_dir = tmp_path / "busy"
    shutil.copytree(logdir / "stopped", run_dir)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_LOCK, str(run_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        (row,) = runs_json(tmp_path, capsys)
        assert row["status"] == "running"
    finally:
        holder.kill()  # SIGKILL: no chance to release anything; the kernel drops the flock
        holder.wait(timeout=30)
    (row,) = runs_json(tmp_path, capsys)
    assert row["status"] == "interrupted" and row["step"] == 8


def test_an_interrupted_run_is_resumable_as_shown(logdir, capsys, tmp_path):
    run_dir = tmp_path / "again"
    shutil.copytree(logdir / "stopped", run_dir)
    dpzoo.train({"trainer": {"threads": 1}}, resume=run_dir)
    (row,) = runs_json(tmp_path, capsys)
    assert row["status"] == "finished" and row["step"] == row["total_steps"] > 8
    assert "test/accuracy" in row["metrics"]


def test_an_empty_or_missing_logdir(capsys, tmp_path):
    assert runs_json(tmp_path, capsys) == []
    assert main(["runs", str(tmp_path / "nowhere")]) == 2
    assert "no logdir" in capsys.readouterr().err


def test_a_finished_run_extended_and_stopped_again_is_interrupted_not_finished(logdir, capsys, tmp_path):
    run_dir = tmp_path / "longer"
    shutil.copytree(logdir / "done", run_dir)
    (before,) = runs_json(tmp_path, capsys)
    with pytest.raises(Interrupted):  # two more epochs asked for, stopped two steps into them
        dpzoo.train({"trainer": {"epochs": 4, "threads": 1}}, resume=run_dir, callbacks=[signal_at(before["step"] + 2)])
    (row,) = runs_json(tmp_path, capsys)
    assert (run_dir / "metrics.json").exists()  # the first finish's metrics are still there
    assert row["status"] == "interrupted" and row["step"] == before["step"] + 2
    assert row["total_steps"] == 2 * before["total_steps"]


def test_the_summary_is_rewritten_at_most_every_few_seconds_and_nothing_held_back_is_lost(tmp_path, monkeypatch):
    from dpzoo.trainer import summary

    clock = [100.0]
    monkeypatch.setattr(summary.time, "monotonic", lambda: clock[0])
    writes: list[dict] = []
    run = summary.RunSummary(
        tmp_path, 100, 5, resumed=False, submit=lambda fn, path, data: writes.append(json.loads(data)), seconds=5
    )
    run.write(0, 0)  # the first write: at once
    clock[0] += 1
    run.write(20, 1, {"validation/accuracy": 0.5})  # 1 s later: held back
    assert [w["step"] for w in writes] == [0]
    clock[0] += 1
    run.write(40, 2, {"validation/accuracy": 0.75})  # still held: the newer record replaces it
    run.flush()  # fit ends (however it ends): what was held is written
    assert [(w["step"], w["latest"]) for w in writes] == [(0, {}), (40, {"validation/accuracy": 0.75})]
    run.flush()  # nothing more to write
    clock[0] += 5
    run.write(60, 3, {"validation/accuracy": 0.8})  # 5 s after the last write: at once
    clock[0] += 1
    run.write(80, 4, {"test/accuracy": 0.9}, finished=True)  # a finished run's record: at once
    assert [w["step"] for w in writes] == [0, 40, 60, 80] and writes[-1]["finished"]
    assert writes[-1]["latest"] == {"validation/accuracy": 0.8, "test/accuracy": 0.9}
