"""Convolutional networks (chapters 7 and 11): the properties the book gives them.

A convolution is translation-equivariant; global pooling turns that into
invariance; a residual block with a zero residual branch is the identity;
dropout acts only in training. Each is checked on the plugin's real layers.
"""

from __future__ import annotations

import pytest
import torch

import dpzoo
from dpzoo import figures
from dpzoo.plugins.cnn import media
from dpzoo.plugins.cnn.resnet import ResidualBlock

MODELS = ["cnn", "allconv", "resnet"]
DIGITS, MNIST = [1, 8, 8], [1, 28, 28]


def build(name: str, shape=DIGITS, seed: int = 0, **config):
    torch.manual_seed(seed)
    return dpzoo.create_model(name, input_shape=shape, num_classes=10, **config)


def images(shape, n: int = 4, seed: int = 1) -> torch.Tensor:
    return torch.rand(n, *shape, generator=torch.Generator().manual_seed(seed))


def shift(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Circular translation of the last two (spatial) axes."""
    return torch.roll(x, shifts=(dy, dx), dims=(-2, -1))


# --- registry, shapes, configs ---------------------------------------------


def test_models_are_registered_as_classifiers():
    assert set(MODELS) <= set(dpzoo.list_models())
    for name in MODELS:
        model = build(name)
        assert isinstance(model, dpzoo.Model)
        assert model.default_loss == "cross_entropy"
        assert model.default_metrics == ("accuracy",)


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("shape", [DIGITS, MNIST], ids=["digits-8x8", "mnist-28x28"])
def test_one_config_serves_8x8_and_28x28(name, shape):
    model = build(name, shape).eval()
    x = images(shape, n=3)
    assert model({"x": x}).shape == (3, 10)
    assert torch.equal(model(x), model({"x": x}))  # a bare tensor is a batch too
    assert torch.equal(model(x.flatten(1)), model(x))  # flat pixels are reshaped to input_shape


@pytest.mark.parametrize("name", MODELS)
def test_first_layer_filters_are_the_first_convolution(name):
    model = build(name)
    filters = model.first_layer_filters()
    assert filters.dim() == 4 and filters.shape[1] == 1 and filters.shape[2:] == (3, 3)
    assert not filters.requires_grad


@pytest.mark.parametrize("name, key", [("cnn", "chanels"), ("allconv", "kernel"), ("resnet", "shortcuts")])
def test_misspelt_config_key_is_an_error_naming_it(name, key):
    with pytest.raises(dpzoo.ConfigError, match=key):
        build(name, **{key: 1})


@pytest.mark.parametrize("name", MODELS)
def test_missing_input_shape_says_what_to_do(name):
    with pytest.raises(dpzoo.ConfigError, match="input_shape"):
        dpzoo.create_model(name)


def test_too_many_poolings_for_8x8_is_an_error():
    with pytest.raises(dpzoo.ConfigError, match="fewer"):
        build("cnn", channels=[8, 8, 8, 8])  # 8 -> 4 -> 2 -> 1 -> 0
    assert build("cnn", channels=[8, 8, 8]).classifier[1].in_features == 8  # 8 -> 4 -> 2 -> 1


def test_lenet_flattened_size_follows_the_layer_arithmetic():
    # padding k // 2 keeps the size through a convolution; each pool of 2 halves it (floor)
    assert build("cnn", DIGITS).classifier[1].in_features == 64 * 2 * 2
    assert build("cnn", MNIST).classifier[1].in_features == 64 * 7 * 7
    assert build("cnn", MNIST, kernel_size=5, pool_size=3, channels=[6, 16]).classifier[1].in_features == 16 * 3 * 3


# --- chapter 11: equivariance and invariance --------------------------------


@pytest.mark.parametrize("dy, dx", [(1, 0), (2, 3), (-3, 5)])
def test_convolution_is_translation_equivariant(dy, dx):
    """conv(shift(x)) = shift(conv(x)): exact on a torus, i.e. with circular padding."""
    conv = build("cnn", MNIST, padding_mode="circular").features[0][0]
    x = images(MNIST)
    with torch.no_grad():
        torch.testing.assert_close(conv(shift(x, dy, dx)), shift(conv(x), dy, dx))


def test_convolution_with_zero_padding_is_equivariant_away_from_the_border():
    """With zero padding the shift is exact wherever the kernel never reaches the border."""
    conv = build("cnn", MNIST).features[0][0]
    x = torch.zeros(2, *MNIST)
    x[..., 8:20, 8:20] = images([1, 12, 12], n=2)  # a digit-sized patch inside a blank margin
    with torch.no_grad():
        torch.testing.assert_close(conv(shift(x, 3, -2)), shift(conv(x), 3, -2))
    # a patch that touches the border does not move rigidly: the padding breaks equivariance there
    y = images(MNIST, n=2)
    with torch.no_grad():
        moved, expected = conv(shift(y, 3, -2)), shift(conv(y), 3, -2)
    torch.testing.assert_close(moved[..., 4:-4, 4:-4], expected[..., 4:-4, 4:-4])
    assert not torch.allclose(moved, expected)


def test_pooling_stage_is_equivariant_to_shifts_by_its_stride():
    """conv-relu-pool(2): shifting the input by 2 shifts the feature map by 1."""
    stage = build("cnn", MNIST, padding_mode="circular").features[0]
    x = images(MNIST)
    with torch.no_grad():
        torch.testing.assert_close(stage(shift(x, 4, -2)), shift(stage(x), 2, -1))


def test_global_pooling_of_a_convolution_is_shift_invariant():
    conv = build("cnn", MNIST, padding_mode="circular").features[0][0]
    x = images(MNIST)
    with torch.no_grad():
        torch.testing.assert_close(conv(shift(x, 5, -7)).mean(dim=(2, 3)), conv(x).mean(dim=(2, 3)))


@pytest.mark.parametrize("name", ["allconv", "resnet"])
@pytest.mark.parametrize("shape, dy, dx", [(DIGITS, 4, 0), (DIGITS, 4, -4), (MNIST, 8, -4)])
def test_globally_pooled_networks_are_invariant_to_shifts_by_their_stride(name, shape, dy, dx):
    """Equivariant stages, then a global average: the logits do not move (stride 2 per downsampling)."""
    model = build(name, shape, padding_mode="circular").eval()
    x = images(shape)
    with torch.no_grad():
        torch.testing.assert_close(model(shift(x, dy, dx)), model(x))


def test_flattening_lenet_is_not_shift_invariant():
    """The contrast: without global pooling the classifier sees where features are."""
    model = build("cnn", DIGITS, padding_mode="circular").eval()
    x = images(DIGITS)
    with torch.no_grad():
        assert not torch.allclose(model(shift(x, 4, 0)), model(x), atol=1e-4)


# --- chapter 7: residual connections and dropout -----------------------------


@pytest.mark.parametrize("training", [True, False])
def test_residual_block_with_zeroed_branch_is_the_identity(training):
    block = ResidualBlock(16, 16, stride=1, shortcut=True).train(training)
    with torch.no_grad():
        block.conv2.weight.zero_()  # F(x) = W_2 * (...) = 0
    x = torch.randn(4, 16, 8, 8)  # either sign: nothing follows the addition
    assert torch.equal(block(x), x)


def test_downsampling_block_with_zeroed_branch_is_the_strided_padded_identity():
    block = ResidualBlock(16, 32, stride=2, shortcut=True)
    with torch.no_grad():
        block.conv2.weight.zero_()
    x = torch.randn(2, 16, 8, 8)
    out = block(x)
    assert out.shape == (2, 32, 4, 4)
    assert torch.equal(out[:, :16], x[:, :, ::2, ::2])
    assert torch.count_nonzero(out[:, 16:]) == 0


def test_resnet_with_every_branch_zeroed_is_its_stem_and_head():
    model = build("resnet", DIGITS, blocks=[2, 2, 2]).eval()
    with torch.no_grad():
        for block in model.blocks:
            block.conv2.weight.zero_()
        x = images(DIGITS)
        h = model.stem(x)
        for block in model.blocks:
            h = block.identity(h)
        expected = model.linear(torch.relu(model.norm(h)).mean(dim=(2, 3)))
        torch.testing.assert_close(model(x), expected)


def test_plain_network_has_the_same_layers_and_depth_without_the_shortcut():
    residual, plain = build("resnet", blocks=[5, 5, 5]), build("resnet", blocks=[5, 5, 5], shortcut=False)
    assert residual.depth == plain.depth == 32  # 6n + 2, as in He et al.
    weight_layers = [m for m in residual.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert len(weight_layers) == residual.depth
    plain.load_state_dict(residual.state_dict())  # identical parameters, name for name
    block = plain.blocks[0]
    with torch.no_grad():
        block.conv2.weight.zero_()
        assert torch.count_nonzero(block(torch.randn(2, 16, 8, 8))) == 0  # no identity path to fall back on


@pytest.mark.parametrize("name", MODELS)
def test_dropout_is_off_in_evaluation_and_on_in_training(name):
    with_dropout = build(name, dropout=0.5)
    without = build(name, dropout=0.0)
    without.load_state_dict(with_dropout.state_dict())  # dropout has no parameters
    x = images(DIGITS, n=8)
    with torch.no_grad():
        with_dropout.eval(), without.eval()
        assert torch.equal(with_dropout(x), with_dropout(x))
        torch.testing.assert_close(with_dropout(x), without(x))
        with_dropout.train()
        torch.manual_seed(0)
        first = with_dropout(x)
        assert not torch.allclose(first, with_dropout(x))  # a fresh mask m each call (equation 7.1)


# --- media --------------------------------------------------------------------


def test_filter_grid_is_an_image_with_zero_at_mid_grey():
    weights = torch.randn(32, 1, 3, 3)
    weights[0] = 0
    grid = media.filter_grid(weights, scale=4, border=1)
    assert grid.shape == (1, 6 * (12 + 1) + 1, 6 * (12 + 1) + 1)  # 32 filters on a 6x6 grid
    assert 0.0 <= grid.min() and grid.max() <= 1.0
    assert torch.all(grid[:, 1:13, 1:13] == 0.5)
    assert media.filter_grid(torch.randn(8, 3, 5, 5)).shape[0] == 3  # colour kernels stay colour
    assert media.filter_grid(torch.randn(8, 16, 3, 3)).shape[0] == 1


def test_confusion_matrix_rows_are_true_classes():
    targets = torch.tensor([0, 0, 1, 2, 2, 2])
    predictions = torch.tensor([0, 1, 1, 2, 2, 0])
    logits = torch.nn.functional.one_hot(predictions, 3).float()
    counts = media.confusion_matrix(logits, targets, 3)
    assert counts.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    rates = media.normalise_rows(counts)
    torch.testing.assert_close(rates.sum(dim=1), torch.ones(3))
    image = media.matrix_image(rates, cell=4)
    assert image.shape == (1, 12, 12) and image[0, 5, 5] == 1.0  # class 1: all correct, white
    assert "| 2 | 1 | 0 | 2 |" in media.confusion_text(counts)


class _Logger:
    def __init__(self):
        self.images, self.texts, self.figures = {}, {}, {}

    def add_image(self, tag, image, step):
        self.images[tag] = (image, step)

    def add_figure(self, tag, figure, step):
        self.figures[tag] = (figure, step)

    def add_text(self, tag, text, step):
        self.texts[tag] = (text, step)


class _Context:
    def __init__(self, model):
        self.logger, self.step, self.model = _Logger(), 7, model

    def predict(self, split):
        x = images(DIGITS, n=20)
        with torch.no_grad():
            return self.model(x), torch.arange(20) % 10


@pytest.mark.parametrize("name", MODELS)
def test_log_media_logs_filters_and_confusion_matrix(name):
    model = build(name).eval()
    ctx = _Context(model)
    model.log_media(ctx)
    filters, step = ctx.logger.images["media/first_layer_filters"]
    assert step == 7 and filters.dim() == 3 and 0 <= filters.min() and filters.max() <= 1
    figure, _ = ctx.logger.figures["media/confusion_matrix"]
    axes = figure.axes[0]
    assert axes.get_title().startswith("validation confusion matrix (20 examples")
    assert (axes.get_xlabel(), axes.get_ylabel()) == ("predicted class", "true class")
    assert [t.get_text() for t in axes.get_xticklabels()] == [str(c) for c in range(10)]
    counts = [int(t.get_text()) for t in axes.texts]  # one count per non-empty cell, summing to the examples shown
    assert 1 <= len(counts) <= 20 and 0 not in counts and sum(counts) == 20
    table = ctx.logger.texts["media/confusion_matrix"][0]
    assert table.count("\n") == 11 and table.startswith("| validation: true")  # header, rule, 10 rows


# --- slow: the accuracy the defaults reach ----------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("name", MODELS)
def test_the_zoo_recipe_reaches_the_zoo_bar_on_digits(name, tmp_path):
    """Each network trained by ``dpzoo.train`` with cnn.digits's recorded command: test accuracy >= 0.985.

    The command (Adam at 3e-3, cosine schedule, 20 epochs, seed 0, one thread)
    is read from the zoo card and parsed as ``dpzoo train`` parses it; only
    the model's name changes.
    """
    from dpzoo.pretrained.rebuild import config_from_command

    config = config_from_command(dpzoo.model_card("cnn.digits").command)
    config = {**config, "model": {**config["model"], "name": name}, "logdir": str(tmp_path), "run_name": name}
    config["trainer"] = {**config["trainer"], "progress": False}
    result = dpzoo.train(config)
    assert result.metrics["test/accuracy"] >= 0.985


# -- zoo entries (issue 4): the cards' figures, re-checked by tests/test_zoo.py --------------
@pytest.mark.parametrize(
    "name, bar", [("cnn.digits", 0.985), ("resnet.digits", 0.985), ("cnn.mnist", 0.992), ("resnet.mnist", 0.992)]
)
def test_zoo_entries_meet_their_bars_and_are_no_worse_than_the_mlp(name, bar):
    card = dpzoo.model_card(name)
    accuracy = card.metric("test/accuracy").value
    assert accuracy >= bar
    mlp = dpzoo.model_card("mlp." + name.split(".")[1]).metric("test/accuracy").value
    assert accuracy >= mlp  # mlp.digits, trained on augmented batches, ties cnn.digits at 358/360
    assert card.command.startswith("dpzoo train --model " + name.split(".")[0])
    model = dpzoo.create_model(name, pretrained=True)
    assert not any(t.is_meta for t in (*model.parameters(), *model.buffers()))


def test_a_training_run_writes_filters_and_confusion_matrix_to_tensorboard(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    result = dpzoo.train(
        {
            "model": "cnn",
            "data": "digits",
            "trainer": {"max_steps": 20, "progress": False, "device": "cpu"},
            "logdir": str(tmp_path),
            "run_name": "media",
        }
    )
    events = EventAccumulator(str(result.run_dir), size_guidance={"images": 0, "tensors": 0})
    events.Reload()
    images = set(events.Tags()["images"])
    assert {"media/first_layer_filters", "media/confusion_matrix"} <= images
    confusion = events.Images("media/confusion_matrix")[-1]
    assert confusion.step == 20 and confusion.width >= 10 and confusion.height >= 10
    assert "media/confusion_matrix/text_summary" in events.Tags()["tensors"]


@pytest.mark.slow
def test_a_deep_plain_network_trains_far_worse_than_the_resnet_of_equal_depth():
    """Chapter 7's degradation problem: at depth 56 the plain stack barely trains; the ResNet does.

    Same initial weights, batches and optimiser; only the identity shortcut differs
    (benchmarks/plain_vs_residual.py prints the whole curves).
    """
    import torch.nn.functional as F

    dataset = dpzoo.create("dataset", "digits")
    train = dataset.load()["train"].with_format("torch")[:]
    x, y = train["x"], train["y"]
    final = {}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small convolutions: one thread is several times faster than two
    try:
        for shortcut in (True, False):
            torch.manual_seed(0)
            model = dpzoo.create_model(
                "resnet", input_shape=[1, 8, 8], num_classes=10, blocks=[9, 9, 9], shortcut=shortcut
            )
            assert model.depth == 56
            optimiser = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
            order = torch.Generator().manual_seed(0)
            losses = []
            for _ in range(80):
                index = torch.randint(len(y), (64,), generator=order)
                loss = F.cross_entropy(model({"x": x[index]}), y[index])
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                losses.append(loss.item())
            final[shortcut] = sum(losses[-20:]) / 20
    finally:
        torch.set_num_threads(threads)
    assert final[False] > 1.5  # the plain network is still near chance (ln 10 = 2.30)
    assert final[True] < 0.5 * final[False]


def test_the_confusion_figure_writes_each_non_empty_cells_count_in_that_cell():
    counts = torch.tensor([[5, 2, 0], [0, 4, 1], [0, 0, 3]])
    axes = figures.confusion_matrix(counts, class_names=["cat", "dog", "bird"], split="test").axes[0]
    assert sorted((round(t.get_position()[1]), round(t.get_position()[0]), t.get_text()) for t in axes.texts) == [
        (0, 0, "5"),
        (0, 1, "2"),
        (1, 1, "4"),
        (1, 2, "1"),
        (2, 2, "3"),
    ]  # (row: true class, column: predicted class, count); the four empty cells are blank
    assert axes.get_title() == "test confusion matrix (15 examples, accuracy 80.0%)"
    assert [t.get_text() for t in axes.get_yticklabels()] == ["cat", "dog", "bird"]
