"""Media during training: dpzoo.media's helpers and log_media every media_every epochs, read back from events."""

from __future__ import annotations

import types

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn

import dpzoo
from dpzoo import media
from dpzoo.trainer import InMemorySplits, TrainConfig, Trainer

QUIET = {"progress": False, "device": "cpu"}


def test_image_grid_tiles_images_in_order_with_padding():
    images = torch.arange(6, dtype=torch.float32).reshape(6, 1, 1, 1) / 10  # six 1x1 grey images
    grid = media.image_grid(images.expand(6, 1, 2, 3), nrow=4, padding=1)
    assert grid.shape == (1, 2 * 3 + 1, 4 * 4 + 1)  # 2 rows, 4 columns of (2+1)x(3+1) cells, plus a border
    for i in range(6):
        r, c = divmod(i, 4)
        tile = grid[0, 1 + 3 * r : 3 + 3 * r, 1 + 4 * c : 4 + 4 * c]
        assert torch.equal(tile, torch.full((2, 3), i / 10)), i
    assert grid[0, 0].eq(1.0).all() and grid[0, 4:6, 9:].eq(1.0).all()  # padding and the two empty cells
    assert media.image_grid(torch.full((4, 3, 2, 2), 7.0)).max() == 1.0  # clamped to [0, 1]; 2x2 by default
    with pytest.raises(ValueError, match=r"\[N, C, H, W\]"):
        media.image_grid(torch.zeros(3, 8, 8))


def test_scatter_image_puts_each_point_where_it_belongs_in_its_colour():
    points = torch.tensor([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    image = media.scatter_image(points, labels=torch.tensor([0, 1, 2]), size=101, radius=0)
    assert image.shape == (3, 101, 101) and 0.0 <= image.min() and image.max() <= 1.0
    # bounding box with a 5% margin: x = 0 sits at column round(0.05/1.1*100) = 5; y grows upwards
    low, high = round(0.05 / 1.1 * 100), round(1.05 / 1.1 * 100)
    assert torch.allclose(image[:, 100 - low, low], media.PALETTE[0])
    assert torch.allclose(image[:, 100 - high, high], media.PALETTE[1])
    assert torch.allclose(image[:, 100 - high, low], media.PALETTE[2])
    assert (image < 1).any(dim=0).sum() == 3  # nothing else drawn


def test_upscale_repeats_pixels_and_markdown_table_formats():
    image = torch.tensor([[[0.0, 1.0]]])
    assert torch.equal(media.upscale(image, 2), torch.tensor([[[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]]]))
    table = media.markdown_table(["class", "recall"], [[0, 0.98765], [1, 1.0]])
    assert table.splitlines() == ["| class | recall |", "|---|---|", "| 0 | 0.9877 |", "| 1 | 1 |"]


class Painter(dpzoo.Model):
    """Logs an image, a text and a prediction-derived image each time log_media runs."""

    default_loss = "cross_entropy"

    def __init__(self, config=None):
        super().__init__(config)
        self.linear = nn.Linear(64, 10)
        self.calls: list[tuple[int, bool, bool]] = []

    def forward(self, batch):
        x = self.inputs(batch).flatten(1)
        return {"logits": self.linear(x), "mean": x.mean(dim=1)} if not self.training else self.linear(x)

    def log_media(self, ctx):
        self.calls.append((ctx.step, self.training, torch.is_grad_enabled()))
        outputs, targets = ctx.predict("validation")
        assert set(outputs) == {"logits", "mean"} and len(outputs["logits"]) == len(targets) == 180
        ctx.log_image("media/grid", media.image_grid(torch.rand(4, 1, 8, 8)))
        ctx.log_text("media/note", f"step {ctx.step}")


class PainterLoss(dpzoo.Loss):
    def __call__(self, output, batch):
        logits = output["logits"] if isinstance(output, dict) else output
        return nn.functional.cross_entropy(logits, batch["y"])


@pytest.fixture(scope="module")
def digits() -> InMemorySplits:
    dataset = dpzoo.create("dataset", "digits")
    return InMemorySplits.from_dataset_dict(dataset.load(), ("x", "y"), torch.device("cpu"), dataset.transform)


def fit(model, data, run_dir, callbacks=(), **trainer) -> dict[str, float]:
    """Train a Painter with SGD, 5 steps an epoch on digits (batch 256), no checkpoints but the last."""
    cfg = TrainConfig(batch_size=256, checkpoint_epochs=0, **QUIET, **trainer)
    return Trainer(cfg, run_dir=run_dir, callbacks=list(callbacks)).fit(
        model, data, optimisers={"model": torch.optim.SGD(model.parameters(), lr=0.1)}, loss=PainterLoss()
    )


@pytest.fixture
def clock(monkeypatch):
    """The trainer's clock (``time.perf_counter``), moved by hand; ``clock.tick`` is a one-second-a-step callback."""
    from dpzoo.trainer import loop

    clock = types.SimpleNamespace(now=1000.0)
    clock.tick = lambda trainer: setattr(clock, "now", clock.now + 1.0)
    monkeypatch.setattr(loop, "time", types.SimpleNamespace(perf_counter=lambda: clock.now))
    return clock


def test_media_are_logged_every_media_every_epochs_and_once_at_the_end(tmp_path, digits):
    model = Painter()
    fit(model, digits, tmp_path, epochs=5, media_every=2, media_seconds=None)
    assert model.calls == [(10, False, False), (20, False, False), (25, False, False)]  # epochs 2, 4, and the end
    events = EventAccumulator(str(tmp_path), size_guidance={"images": 0, "tensors": 0})
    events.Reload()
    assert [e.step for e in events.Images("media/grid")] == [10, 20, 25]
    texts = events.Tensors("media/note/text_summary")
    assert [(e.step, e.tensor_proto.string_val[0].decode()) for e in texts] == [(s, f"step {s}") for s in (10, 20, 25)]


def test_media_wait_media_seconds_of_training_between_epoch_ends_and_always_come_at_the_end(tmp_path, digits, clock):
    model = Painter()
    fit(model, digits, tmp_path, callbacks=[clock.tick], epochs=5, media_seconds=12)
    # epochs end 5, 10, 15, 20, 25 s in: 12 s have passed at the third, then 12 more not before the end
    assert [step for step, *_ in model.calls] == [15, 25]
    assert TrainConfig().media_seconds == 10 and TrainConfig().media_every == 1


def test_slow_media_wait_nineteen_times_their_own_cost_so_they_take_at_most_a_twentieth_of_the_run(
    tmp_path, digits, clock
):
    from dpzoo.trainer import loop

    class SlowPainter(Painter):
        def log_media(self, ctx):
            super().log_media(ctx)
            clock.now += 2.0  # a GPT's samples, say: 2 s of drawing each time

    model = SlowPainter()
    fit(model, digits, tmp_path, callbacks=[clock.tick], epochs=10, media_seconds=12)
    # the first media come 15 s in (12 s had passed) and end at 17 s; media_seconds alone would allow the next at
    # 29 s (step 30), but 19 x 2 s = 38 s of training must pass first: none is due before the end (step 50, 52 s)
    assert [step for step, *_ in model.calls] == [15, 50]
    assert loop.MEDIA_SHARE == 19


class DroppingPainter(Painter):
    """Trains through dropout (torch's global generator); its media draw from that generator too."""

    def forward(self, batch):
        out = super().forward(batch)
        return nn.functional.dropout(out, 0.5, self.training) if self.training else out

    def log_media(self, ctx):
        super().log_media(ctx)
        torch.rand(1000)  # a careless plugin's random media


def test_media_never_change_what_training_draws_from_torchs_generator(tmp_path, digits):
    weights, finals = [], []
    for media_every in (1, 0):  # media after every epoch, or only at the end
        torch.manual_seed(0)
        model = DroppingPainter()
        finals.append(
            fit(model, digits, tmp_path / str(media_every), epochs=3, media_every=media_every, media_seconds=None)
        )
        weights.append(model.linear.weight.detach().clone())
        assert [step for step, *_ in model.calls] == ([5, 10, 15] if media_every else [15])
    assert torch.equal(weights[0], weights[1])
    assert finals[0]["validation/loss"] == finals[1]["validation/loss"]


def test_log_image_refuses_what_tensorboard_cannot_draw_and_says_what_to_pass():
    from dpzoo.media import checked_image

    for image, hint in [
        (torch.rand(4, 1, 8, 8), "dpzoo.media.image_grid"),  # a batch
        (torch.rand(8, 8, 3), r"permute\(2, 0, 1\)"),  # channels last
        (torch.rand(2, 8, 8), r"\[C, H, W\] with C 1, 3 or 4"),
        (torch.ones(8, 8, dtype=torch.int64), "floats in \\[0, 1\\] or 8-bit pixels"),
        (torch.rand(8, 8).numpy(), "takes a torch tensor"),
    ]:
        with pytest.raises(ValueError, match=r"ctx.log_image\('media/x', ...\).*" + hint):
            checked_image("media/x", image)
    pixels = torch.tensor([[0, 51, 255]], dtype=torch.uint8)
    assert (
        torch.equal(checked_image("t", pixels)[0], torch.tensor([[0.0, 0.2, 1.0]]))
        and checked_image("t", pixels)[1] is None
    )
    assert torch.equal(checked_image("t", torch.tensor([[True, False]]))[0], torch.tensor([[1.0, 0.0]]))
    clamped, problem = checked_image("t", torch.tensor([[-1.0, 0.5, 255.0, float("nan")]]))
    assert torch.equal(clamped, torch.tensor([[0.0, 0.5, 1.0, 0.0]]))
    assert problem is not None and "clamped to [0, 1]" in problem and "255" in problem


class BrightPainter(Painter):
    def log_media(self, ctx):
        super().log_media(ctx)
        ctx.log_image("media/raw", torch.full((1, 4, 4), 200.0))  # 0-255 floats: TensorBoard would show white


def test_out_of_range_images_are_clamped_with_one_warning_per_tag(tmp_path, digits):
    model = BrightPainter()
    with pytest.warns(UserWarning, match=r"ctx.log_image\('media/raw'.*from 200 to 200, clamped") as caught:
        fit(model, digits, tmp_path, epochs=3, media_seconds=None)
    assert len([w for w in caught if "media/raw" in str(w.message)]) == 1
    assert [step for step, *_ in model.calls] == [5, 10, 15]
    events = EventAccumulator(str(tmp_path), size_guidance={"images": 0})
    events.Reload()
    assert [e.step for e in events.Images("media/raw")] == [5, 10, 15]


def test_without_a_run_directory_log_image_and_log_text_do_nothing():
    trainer = Trainer(TrainConfig(**QUIET))
    trainer.ctx.log_image("x", torch.zeros(1, 2, 2))  # no logger: nothing to write, no error
    trainer.ctx.log_text("x", "y")
    assert trainer.logger is None
