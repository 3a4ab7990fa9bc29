"""Benchmarks that lean on the trainer's internals run end to end (tiny sizes; no timing is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_trainer_layers_runs_every_layer_and_ends_with_one_json_line():
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "trainer_layers.py"),
            "--steps",
            "12",
            "--rounds",
            "2",
            "--warm-up",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    layers = ("loop", "loss", "stepper", "pending", "trainer", "logged")
    assert set(report) == {
        "ideal_cpu_us",
        *(f"{name}_cpu_us" for name in layers),
        *(f"{name}_extra_us" for name in layers),
        "logged_waiting_us",
        "steps",
        "rounds",
        "torch",
    }
    assert report["steps"] == 12 and report["rounds"] == 2
    assert all(report[f"{name}_cpu_us"] > 0 for name in ("ideal", *layers))
