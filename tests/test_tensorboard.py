"""What TensorBoard receives, read back from the event files: HParams columns, curves, layout, figures."""

from __future__ import annotations

import io

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.custom_scalar import layout_pb2, metadata as custom_scalars
from tensorboard.plugins.hparams import plugin_data_pb2

import dpzoo
from dpzoo.trainer.logger import default_log_every

QUIET = {"progress": False, "device": "cpu", "threads": 1}


def events(run_dir) -> EventAccumulator:
    accumulator = EventAccumulator(str(run_dir), size_guidance={"scalars": 0, "tensors": 0, "images": 0})
    accumulator.Reload()
    return accumulator


@pytest.fixture(scope="module")
def mlp_run(tmp_path_factory):
    """Five epochs of the MLP on digits with every logging default: the run the issue found two points in."""
    logdir = tmp_path_factory.mktemp("tb")
    result = dpzoo.train(
        {
            "model": {"name": "mlp", "hidden": [32]},
            "data": "digits",
            "trainer": {**QUIET, "epochs": 5},
            "logdir": str(logdir),
            "run_name": "mlp",
        }
    )
    return result, events(result.run_dir)


def hparams_content(acc: EventAccumulator, tag: str):
    return plugin_data_pb2.HParamsPluginData.FromString(acc.PluginTagToContent("hparams")[tag])


def test_the_hparams_columns_are_the_settings_people_compare(mlp_run):
    result, acc = mlp_run
    columns = dict(hparams_content(acc, "_hparams_/session_start_info").session_start_info.hparams)
    model_options = {f"model.{k}" for k in result.config["model"]}
    assert model_options <= set(columns)  # the model's own options, every one
    assert {
        "data.name",
        "loss.name",
        "optimiser.name",
        "optimiser.lr",
        "trainer.batch_size",
        "trainer.epochs",
        "trainer.seed",
    } <= set(columns)
    assert columns["optimiser.lr"].number_value == pytest.approx(result.config["optimiser"]["lr"])
    assert columns["trainer.epochs"].number_value == 5 and columns["data.name"].string_value == "digits"
    assert columns["model.residual"].string_value == "false"  # a bool reads as one, not as 0
    noise = {
        "data.normalise",
        "loss.ignore_index",
        "trainer.progress",
        "trainer.threads",
        "trainer.device",
        "trainer.max_steps",
    }  # the last is unset on an epochs run
    assert not noise & set(columns)
    assert not any(c.startswith(("data.", "loss.")) and not c.endswith(".name") for c in columns)


def test_the_hparams_metrics_are_the_final_evaluations_validation_first(mlp_run):
    result, acc = mlp_run
    experiment = hparams_content(acc, "_hparams_/experiment").experiment
    tags = [m.name.tag for m in experiment.metric_infos]
    assert tags == ["validation/accuracy", "validation/loss", "test/accuracy", "test/loss"]
    for tag in tags:  # the table reads each metric's last scalar: it is the run's final value
        assert acc.Scalars(tag)[-1].value == pytest.approx(result.metrics[tag], abs=1e-6)


def test_training_curves_have_tens_of_points_on_a_short_run_without_a_sync_per_step(mlp_run):
    result, acc = mlp_run
    steps = [e.step for e in acc.Scalars("train/loss")]
    every = default_log_every(result.metrics["step"])
    assert every > 1  # not one device sync per step
    assert steps == list(range(every, result.metrics["step"] + 1, every))
    assert len(steps) >= 25
    assert default_log_every(10) == 1 and default_log_every(10**6) == 50  # tiny runs: every step; long: 50 apart


def test_a_custom_scalars_chart_draws_training_and_validation_loss_together(mlp_run):
    _, acc = mlp_run
    raw = acc.Tensors(custom_scalars.CONFIG_SUMMARY_TAG)[-1].tensor_proto.string_val[0]
    layout = layout_pb2.Layout.FromString(raw)
    charts = {chart.title: list(chart.multiline.tag) for category in layout.category for chart in category.chart}
    loss = charts["training and validation loss"]
    assert loss == [r"^train/loss$", r"^validation/loss$"]
    assert {"train/loss", "validation/loss"} <= set(acc.Tags()["scalars"])  # the patterns name logged tags
    assert charts["accuracy: validation and test"] == [r"^validation/accuracy$", r"^test/accuracy$"]


def test_the_confusion_matrix_is_a_labelled_colour_figure(tmp_path):
    from PIL import Image

    result = dpzoo.train(
        {
            "model": "cnn",
            "data": "digits",
            "trainer": {**QUIET, "max_steps": 10},
            "logdir": str(tmp_path),
            "run_name": "cnn",
        }
    )
    image = events(result.run_dir).Images("media/confusion_matrix")[-1]
    picture = Image.open(io.BytesIO(image.encoded_image_string)).convert("RGB")
    assert picture.size == (image.width, image.height) and image.width >= 400  # a plot, not a 10x10 grid of cells
    pixels = np.asarray(picture).reshape(-1, 3).astype(int)
    # matplotlib's Blues: cells and colour bar are blue (B well above R), not the old grey
    assert (pixels[:, 2] - pixels[:, 0] > 60).mean() > 0.05
    # black text (tick labels, title, counts) on the figure
    assert (pixels.max(axis=1) < 60).any()


def test_scalars_reach_the_writer_in_bunches_in_logging_order_and_all_by_the_end(tmp_path, monkeypatch):
    from dpzoo.trainer import logger as logging_module

    clock = [50.0]
    monkeypatch.setattr(logging_module.time, "monotonic", lambda: clock[0])
    run = logging_module.RunLogger(tmp_path)
    run.scalars({"train/loss": 1.0}, 1)  # the first: handed over at once
    assert run._held == []
    clock[0] += 0.5
    run.scalars({"train/loss": 0.9}, 2)  # within a second of the last hand-over: held on the training thread
    run.scalars({"validation/loss": 0.95}, 2)
    assert len(run._held) == 2
    run.add_text("note", "after step 2", 2)  # anything else logged hands the held scalars over first, in order
    assert run._held == []
    clock[0] += 0.2
    run.scalars({"train/loss": 0.8}, 3)  # held again ...
    clock[0] += 1.0
    run.scalars({"train/loss": 0.7}, 4)  # ... until a second has passed: both go in one job
    assert run._held == []
    run.scalars({"train/loss": 0.6}, 5)  # held when the run ends: close writes it
    run.close()
    logged = events(tmp_path)
    assert [(e.step, round(e.value, 6)) for e in logged.Scalars("train/loss")] == [
        (1, 1.0),
        (2, 0.9),
        (3, 0.8),
        (4, 0.7),
        (5, 0.6),
    ]
    assert [e.step for e in logged.Scalars("validation/loss")] == [2]


def test_each_logged_step_is_one_event_with_every_tag_read_back_by_tensorboard(tmp_path):
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    from dpzoo.trainer import logger as logging_module

    run = logging_module.RunLogger(tmp_path)
    run.scalars({"train/loss": 0.5, "train/lr": 0.001, "train/skipped_steps": 2}, 7)
    run.scalars({"validation/loss": 0.25}, 7)
    run.scalars({}, 8)  # an evaluation with nothing to report writes no event
    run.close()
    (path,) = tmp_path.glob("events.out.tfevents.*")
    with_values = [e for e in EventFileLoader(str(path)).Load() if e.HasField("summary")]
    # one event per logged dict (add_scalar would write one per tag, each checksummed in Python)
    assert [(e.step, [v.tag for v in e.summary.value]) for e in with_values] == [
        (7, ["train/loss", "train/lr", "train/skipped_steps"]),
        (7, ["validation/loss"]),
    ]
    logged = events(tmp_path)  # and TensorBoard's reader sees each tag as its own curve
    assert [(e.step, e.value) for e in logged.Scalars("train/lr")] == [(7, pytest.approx(0.001))]
    assert [(e.step, e.value) for e in logged.Scalars("train/skipped_steps")] == [(7, 2.0)]
    assert sorted(logged.Tags()["scalars"]) == ["train/loss", "train/lr", "train/skipped_steps", "validation/loss"]
