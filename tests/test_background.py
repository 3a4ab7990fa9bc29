"""Work off the training thread (issue 16): the background writer, checkpoints by time, written in the background."""

from __future__ import annotations

import io
import json
import threading
import types
from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import dpzoo
from dpzoo.trainer import InMemorySplits, TrainConfig, Trainer, checkpoint as ckpt, loop
from dpzoo.trainer.background import Background
from dpzoo.trainer.logger import RunLogger
from dpzoo.trainer.recovery import load_checkpoint

QUIET = {"progress": False, "device": "cpu"}


# -- the writer thread ---------------------------------------------------------------------------
def test_jobs_run_in_order_off_the_calling_thread():
    done, threads = [], set()
    background = Background("test", maxsize=2)  # a small queue: submit waits, nothing is dropped
    for i in range(50):
        background.submit(lambda i=i: (done.append(i), threads.add(threading.current_thread().name)))
    background.close()
    assert done == list(range(50)) and threads == {"dpzoo-test"}


def test_a_failed_job_is_raised_on_the_caller_and_the_jobs_after_it_are_dropped():
    done = []
    background = Background("test")
    background.submit(done.append, 1)
    background.submit(lambda: 1 / 0)
    background.submit(done.append, 2)  # after a failure: never run as if nothing had happened
    with pytest.raises(ZeroDivisionError):
        background.wait()
    background.submit(done.append, 3)  # the error was reported: the writer works again
    background.close()
    assert done == [1, 3]


def test_close_finishes_every_job_and_can_leave_errors_to_the_one_unwinding():
    done = []
    background = Background("test")
    background.submit(lambda: done.append(threading.Event().wait(0.2)))  # still running when close is called
    background.submit(lambda: 1 / 0)
    background.close(raise_errors=False)  # returns once both ran, without raising
    assert done == [False]
    with pytest.raises(RuntimeError, match="closed"):
        background.submit(done.append, 1)


def test_events_land_in_order_and_logged_tensors_are_copied(tmp_path):
    logger = RunLogger(tmp_path)
    image = torch.zeros(1, 4, 4)
    for step in range(1, 201):
        logger.scalars({"train/loss": float(step)}, step)
    logger.add_image("media/image", image, 1)
    image.fill_(1.0)  # changed right after logging: the logged copy keeps the zeros
    logger.close()
    events = EventAccumulator(str(tmp_path), size_guidance={"scalars": 0, "images": 0})
    events.Reload()
    assert [(e.step, e.value) for e in events.Scalars("train/loss")] == [(s, float(s)) for s in range(1, 201)]
    png = events.Images("media/image")[0].encoded_image_string
    pixels = torch.frombuffer(bytearray(Image.open(io.BytesIO(png)).convert("L").tobytes()), dtype=torch.uint8)
    assert pixels.numel() == 16 and int(pixels.max()) == 0


# -- checkpoints ------------------------------------------------------------------------------------
def test_a_snapshot_keeps_the_values_it_was_taken_with(tmp_path):
    weights = torch.arange(4.0)
    taken = ckpt.snapshot(3, {"w": weights})
    weights.add_(100.0)  # training goes on while the snapshot is written
    ckpt.write_snapshot(tmp_path, taken)
    step, state = load_checkpoint(tmp_path)
    assert step == 3 and torch.equal(state["w"], torch.arange(4.0))


def run_config(tmp_path: Path, name: str, **trainer) -> dict:
    return {
        "model": {"name": "mlp", "hidden": [16]},
        "data": "digits",
        "trainer": {**QUIET, **trainer},
        "logdir": str(tmp_path),
        "run_name": name,
    }


class Clock:
    """``time.perf_counter`` for the loop: moves only when a test says so."""

    def __init__(self):
        self.now = 1000.0

    def perf_counter(self) -> float:
        return self.now


def checkpoint_steps(directory: Path) -> list[int]:
    return sorted(int(p.stem.split("-")[1]) for p in directory.glob("step-*.json"))


def test_checkpoints_by_time_at_most_one_per_period_and_always_at_the_end(tmp_path, monkeypatch):
    clock = Clock()
    monkeypatch.setattr(loop, "time", types.SimpleNamespace(perf_counter=clock.perf_counter))

    def thirty_seconds_a_step(trainer):
        clock.now += 30.0

    dpzoo.train(
        run_config(tmp_path, "t", max_steps=8, checkpoint_seconds=60, keep_checkpoints=10),
        callbacks=[thirty_seconds_a_step],
    )
    # 60 s have passed after steps 3, 5 and 7 (the clock moves after each step's check); 8 is the end
    assert checkpoint_steps(tmp_path / "t/checkpoints") == [3, 5, 7, 8]


def test_by_default_a_short_run_writes_one_checkpoint_at_its_end(tmp_path, monkeypatch):
    monkeypatch.setattr(loop, "time", types.SimpleNamespace(perf_counter=Clock().perf_counter))  # under 60 s
    result = dpzoo.train(run_config(tmp_path, "d", epochs=2, keep_checkpoints=10))
    assert TrainConfig().checkpoint_seconds == 60 and TrainConfig().checkpoint_epochs == 0
    assert checkpoint_steps(tmp_path / "d/checkpoints") == [result.metrics["step"]]
    config = json.loads((tmp_path / "d/config.json").read_text())["trainer"]
    assert config["checkpoint_seconds"] == 60


def test_steps_and_epochs_cadences_still_apply_beside_time(tmp_path):
    result = dpzoo.train(
        run_config(
            tmp_path,
            "e",
            epochs=2,
            checkpoint_every=7,
            checkpoint_epochs=1,
            checkpoint_seconds=None,
            keep_checkpoints=20,
        )
    )
    per_epoch = result.metrics["step"] // 2
    expected = sorted({*range(7, result.metrics["step"] + 1, 7), per_epoch, result.metrics["step"]})
    assert checkpoint_steps(tmp_path / "e/checkpoints") == expected


def test_a_failed_background_write_stops_training_with_its_error_and_keeps_the_previous_checkpoint(
    tmp_path, monkeypatch
):
    writes = []
    real = ckpt.atomic_save_tensors

    def full_disk_on_the_second(tensors, path, metadata=None):
        writes.append(threading.current_thread().name)
        if len(writes) == 2:
            raise OSError(28, "No space left on device", str(path))
        real(tensors, path, metadata)

    monkeypatch.setattr(ckpt, "atomic_save_tensors", full_disk_on_the_second)
    with pytest.raises(OSError, match="No space left"):
        dpzoo.train(run_config(tmp_path, "f", max_steps=30, checkpoint_every=5))
    assert set(writes) == {"dpzoo-checkpoints"}  # written off the training thread
    step, _ = load_checkpoint(tmp_path / "f/checkpoints")
    assert step == 5


def test_fit_returns_with_every_checkpoint_and_event_on_disk(tmp_path, digits):
    model = dpzoo.create_model("mlp", input_shape=[1, 8, 8], num_classes=10, hidden=[8])
    before = set(threading.enumerate())
    trainer = Trainer(TrainConfig(max_steps=25, log_every=5, checkpoint_every=10, **QUIET), run_dir=tmp_path)
    trainer.fit(
        model,
        digits,
        optimisers={"model": torch.optim.SGD(model.parameters(), lr=0.1)},
        loss=dpzoo.create("loss", "cross_entropy"),
    )
    assert set(threading.enumerate()) <= before  # the writers' threads (and TensorBoard's own) are joined
    assert checkpoint_steps(tmp_path / "checkpoints") == [20, 25]
    last = load_file(tmp_path / "checkpoints/step-00000025.safetensors")
    assert torch.equal(last["state.model.output.weight"], model.state_dict()["output.weight"])
    events = EventAccumulator(str(tmp_path), size_guidance={"scalars": 0})
    events.Reload()
    assert [e.step for e in events.Scalars("train/loss")] == [5, 10, 15, 20, 25]


@pytest.fixture(scope="module")
def digits() -> InMemorySplits:
    dataset = dpzoo.create("dataset", "digits")
    return InMemorySplits.from_dataset_dict(
        dataset.load(), tuple(dataset.columns), torch.device("cpu"), dataset.transform
    )
