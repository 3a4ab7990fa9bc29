"""The MLP plugin against chapters 2-4 and 7: softmax regression, layers, dropout, skips."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import dpzoo


def make(**overrides):
    torch.manual_seed(0)
    return dpzoo.create_model("mlp", input_shape=[1, 8, 8], num_classes=10, **overrides)


def test_zero_hidden_layers_is_softmax_regression():
    model = make(hidden=[])
    x = torch.randn(5, 1, 8, 8)
    W, b = model.output.weight, model.output.bias
    torch.testing.assert_close(model(x), x.flatten(1) @ W.T + b)  # z = W x + b
    assert sum(p.numel() for p in model.parameters()) == 64 * 10 + 10


@pytest.mark.parametrize(
    "activation, sigma",
    [
        ("relu", torch.relu),
        ("tanh", torch.tanh),
        ("sigmoid", torch.sigmoid),
        ("softplus", nn.functional.softplus),
        ("identity", lambda v: v),
    ],
)
def test_each_hidden_layer_is_sigma_of_an_affine_map(activation, sigma):
    model = make(hidden=[16, 12], activation=activation)
    x = torch.randn(3, 1, 8, 8)
    h = x.flatten(1)
    for layer in model.hidden:
        h = sigma(h @ layer.linear.weight.T + layer.linear.bias)
    torch.testing.assert_close(model(x), h @ model.output.weight.T + model.output.bias)


def test_dropout_is_active_in_training_and_off_in_evaluation():
    model = make(hidden=[256], dropout=0.5)
    x = torch.randn(4, 1, 8, 8)
    model.train()
    assert not torch.equal(model(x), model(x))
    model.eval()
    assert torch.equal(model(x), model(x))


def test_residual_connections_skip_layers_of_unchanged_width():
    model = make(hidden=[32, 32, 16], residual=True)
    assert [layer.residual for layer in model.hidden] == [False, True, False]
    layer = model.hidden[1]
    nn.init.zeros_(layer.linear.weight)
    nn.init.constant_(layer.linear.bias, -1.0)  # relu(-1) = 0: the block is the identity
    h = torch.randn(2, 32)
    assert torch.equal(layer(h), h)


def test_a_bare_tensor_and_a_batch_give_the_same_output():
    model = make()
    x = torch.randn(2, 1, 8, 8)
    assert torch.equal(model(x), model({"x": x, "y": torch.zeros(2)}))


def test_missing_data_facts_and_misspelt_options_are_clear_errors():
    with pytest.raises(dpzoo.ConfigError, match="input_shape and num_classes"):
        dpzoo.create_model("mlp")
    with pytest.raises(dpzoo.ConfigError, match="activation"):
        dpzoo.create_model("mlp", input_shape=[4], num_classes=2, activation="gelu")


def test_the_mlp_beats_97_percent_on_the_digits_test_split(tmp_path):
    """The README's quickstart: hidden 256, 30 epochs of Adam on the 1,257 training digits."""
    result = dpzoo.train(
        {
            "model": {"name": "mlp", "hidden": [256]},
            "data": "digits",
            "trainer": {"epochs": 30, "progress": False, "device": "cpu"},
            "logdir": str(tmp_path),
            "run_name": "quickstart",
        }
    )
    assert result.metrics["test/accuracy"] >= 0.97


def test_softmax_regression_reaches_the_books_figure_with_full_batch_descent(tmp_path):
    """Softmax regression, full-batch gradient descent: about 0.90 on the digits (book-values.md)."""
    result = dpzoo.train(
        {
            "model": {"name": "mlp", "hidden": []},
            "data": "digits",
            "optimiser": {"name": "sgd", "lr": 0.5},
            "trainer": {"epochs": 100, "batch_size": 1257, "progress": False, "device": "cpu"},
            "logdir": str(tmp_path),
            "run_name": "softmax",
        }
    )
    assert result.metrics["step"] == 100  # one step per epoch: the whole training split
    assert result.metrics["test/accuracy"] >= 0.88


def test_bf16_autocast_runs_the_forward_pass_in_bfloat16(tmp_path):
    seen = []
    model = make(hidden=[16])
    model.output.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    dataset = dpzoo.create("dataset", "digits")
    from dpzoo.trainer import InMemorySplits, TrainConfig, Trainer

    data = InMemorySplits.from_dataset_dict(dataset.load(), ("x", "y"), torch.device("cpu"), dataset.transform)
    cfg = TrainConfig(max_steps=2, precision="bf16", validate_every=0, test=False, progress=False, device="cpu")
    Trainer(cfg).fit(
        model,
        data,
        optimisers={"model": torch.optim.Adam(model.parameters())},
        loss=dpzoo.create("loss", "cross_entropy"),
    )
    assert len(seen) >= 2 and set(seen) == {torch.bfloat16}  # training steps and the final evaluation
    assert model.output.weight.dtype == torch.float32  # parameters stay in float32


def test_fp16_autocast_trains_with_a_gradient_scaler(tmp_path):
    result = dpzoo.train(
        {
            "model": {"name": "mlp", "hidden": [64]},
            "data": "digits",
            "trainer": {"epochs": 5, "precision": "fp16", "progress": False, "device": "cpu"},
            "logdir": str(tmp_path),
            "run_name": "fp16",
        }
    )
    scaler = result.trainer.stepper.scalers["model"]  # one gradient scaler per optimiser
    assert scaler.get_scale() > 0
    assert result.metrics["test/accuracy"] > 0.8  # it learns: the scaler unscales before each step
    assert all(p.dtype == torch.float32 for p in result.model.parameters())
