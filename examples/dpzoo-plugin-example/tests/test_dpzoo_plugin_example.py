"""Tests of the example plugin: run them with the package installed (pip install -e .).

They check what dpzoo relies on: the plugin is discovered and registers its
components, the model maps a batch to logits, the dataset has fixed splits with
the columns and types the trainer batches.
"""

import pytest

pytest.importorskip("dpzoo_plugin_example", reason="install the plugin first: pip install -e .")

import dpzoo  # noqa: E402


def test_dpzoo_discovers_the_plugin():
    report = next((p for p in dpzoo.list_plugins() if p["name"] == "example"), None)
    assert report is not None, "entry point 'example' not found: is the package installed?"
    assert report["status"] == "ok", report["error"]
    assert report["registers"] == {"model": ["tiny_gan", "tiny_mlp"], "dataset": ["two_moons"]}


def test_model_maps_a_batch_to_logits():
    import torch

    model = dpzoo.create_model("example:tiny_mlp", input_shape=[2], num_classes=2, hidden=8)
    logits = model({"x": torch.randn(5, 2), "y": torch.zeros(5, dtype=torch.long)})
    assert logits.shape == (5, 2)


def test_model_without_data_shape_says_what_to_do():
    with pytest.raises(dpzoo.ConfigError, match="--data"):
        dpzoo.create_model("example:tiny_mlp")


def test_dataset_has_fixed_splits_with_the_right_columns():
    data = dpzoo.create("dataset", "example:two_moons")
    splits = data.load()
    assert set(splits) == {"train", "validation", "test"}
    assert [len(splits[s]) for s in ("train", "validation", "test")] == [3000, 1000, 1000]
    train = splits["train"].with_format("numpy")[:]
    assert train["x"].shape == (3000, 2) and str(train["x"].dtype) == "float32"
    assert str(train["y"].dtype) == "int64" and set(train["y"].tolist()) == {0, 1}
    assert data.info() == {"input_shape": [2], "num_classes": 2}
    again = dpzoo.create("dataset", "example:two_moons").load()
    assert list(again["test"]["y"]) == list(splits["test"]["y"]), "the seed fixes the split"


def test_the_gan_trains_its_two_networks_each_with_its_own_optimiser(tmp_path):
    import torch

    result = dpzoo.train(
        {
            "model": {"name": "example:tiny_gan", "critic_steps": 2},
            "data": "example:two_moons",
            "optimisers": {"critic": {"lr": 4e-3}},  # the generator keeps the run's adam at 1e-3
            "trainer": {"max_steps": 20, "progress": False, "device": "cpu", "log_every": 10},
            "logdir": str(tmp_path),
            "run_name": "gan",
        }
    )
    trainer = result.trainer
    assert trainer.optimiser_steps == {"critic": 40, "generator": 20}  # k = 2 critic steps per batch
    assert trainer.optimisers["critic"].param_groups[0]["lr"] == 4e-3
    assert trainer.optimisers["generator"].param_groups[0]["lr"] == 1e-3
    assert 0.0 <= result.metrics["test/critic_accuracy"] <= 1.0
    assert torch.isfinite(torch.tensor([result.metrics["test/critic"], result.metrics["test/generator"]])).all()
    assert any((tmp_path / "gan").glob("events.out.tfevents.*"))  # the scatter plot of log_media goes there
