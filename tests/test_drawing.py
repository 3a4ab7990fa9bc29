"""Differentiable drawing (section 1.3.5): the soft rasteriser, sketching, the learned sketcher, `dpzoo sketch`."""

from __future__ import annotations

import itertools
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import torch

import dpzoo
from dpzoo.cli import main
from dpzoo.plugins.drawing.losses import MultiScaleMSE, gaussian_blur
from dpzoo.plugins.drawing.png import PNGError, read_png, write_png
from dpzoo.plugins.drawing.rasterise import CONTROL_POINTS, Strokes, bezier, render, render_hard, squared_distance

SVG = "{http://www.w3.org/2000/svg}"
PRIMITIVES = list(CONTROL_POINTS)


def random_strokes(n=2, k=3, primitive="cubic", half_width=0.0, seed=0, dtype=torch.float64) -> Strokes:
    g = torch.Generator().manual_seed(seed)
    points = 0.15 + 0.7 * torch.rand(n, k, CONTROL_POINTS[primitive], 2, generator=g, dtype=dtype)
    return Strokes(
        points, torch.full((n, k), half_width, dtype=dtype), 0.5 + 0.5 * torch.rand(n, k, generator=g, dtype=dtype)
    )


# -- the rasteriser ------------------------------------------------------------------------------
def test_squared_distance_to_a_line_is_the_distance_to_the_nearest_point_of_the_segment():
    """Re-derived pixel by pixel in float64: a horizontal segment from (2, 3) to (6, 3) pixels."""
    size = (8, 10)
    points = torch.tensor([[[[2 / 10, 3 / 8], [6 / 10, 3 / 8]]]], dtype=torch.float64)
    d2 = squared_distance(points, size).reshape(size)
    for i, j in itertools.product(range(8), range(10)):
        x, y = j + 0.5, i + 0.5
        nearest_x = min(max(x, 2.0), 6.0)
        assert d2[i, j].item() == pytest.approx((x - nearest_x) ** 2 + (y - 3.0) ** 2, abs=1e-9)


def test_bezier_interpolates_its_end_points_and_a_straight_cubic_lies_on_its_line():
    p = torch.tensor([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6], [0.7, 0.8]], dtype=torch.float64)
    b = bezier(p, torch.linspace(0, 1, 11, dtype=torch.float64))
    assert torch.allclose(b[0], p[0]) and torch.allclose(b[-1], p[-1])
    assert torch.allclose(b[:, 1] - b[:, 0], torch.full((11,), 0.1, dtype=torch.float64))  # on y = x + 0.1
    assert torch.allclose(
        b[5], torch.tensor([0.4, 0.5], dtype=torch.float64)
    )  # evenly spaced points: B(1/2) is the middle


@pytest.mark.parametrize("primitive", PRIMITIVES)
@pytest.mark.parametrize("composition", ["soft_union", "soft_max"])
@pytest.mark.parametrize("half_width", [0.0, 0.8])
def test_gradients_match_finite_differences(primitive, composition, half_width):
    """torch.autograd.gradcheck in float64, w.r.t. control points, half-widths and intensities."""
    s = random_strokes(n=1, k=2, primitive=primitive, half_width=half_width, seed=3)
    points = s.points.clone().requires_grad_()
    widths = (s.half_widths + 0.1 * (half_width > 0)).clone().requires_grad_(half_width > 0)
    intensities = s.intensities.clone().requires_grad_()

    def f(points, widths, intensities):
        return render(Strokes(points, widths, intensities), (6, 7), sigma=0.9, composition=composition, segments=4)

    inputs = (points, widths, intensities)
    assert torch.autograd.gradcheck(f, inputs, eps=1e-6, atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("composition", ["soft_union", "soft_max"])
def test_rendering_is_invariant_to_the_order_of_the_strokes(composition):
    s = random_strokes(n=2, k=5, primitive="quadratic", half_width=0.5)
    image = render(s, (12, 12), sigma=1.0, composition=composition)
    for seed in range(3):
        order = torch.randperm(5, generator=torch.Generator().manual_seed(seed))
        assert not torch.equal(order, torch.arange(5))
        assert torch.allclose(render(s.permute(order), (12, 12), sigma=1.0, composition=composition), image, atol=1e-12)
    assert image.min() >= 0 and image.max() <= 1


def test_soft_union_is_one_minus_the_product_of_the_complements():
    """I = 1 - prod_k (1 - I_k), checked against each stroke rendered alone."""
    s = random_strokes(n=1, k=3, primitive="line")
    alone = [
        render(Strokes(s.points[:, k : k + 1], s.half_widths[:, k : k + 1], s.intensities[:, k : k + 1]), (9, 9), 1.0)
        for k in range(3)
    ]
    expected = 1 - (1 - alone[0]) * (1 - alone[1]) * (1 - alone[2])
    assert torch.allclose(render(s, (9, 9), 1.0), expected, atol=1e-12)


@pytest.mark.parametrize("composition", ["soft_union", "soft_max"])
def test_soft_rendering_tends_to_the_hard_rendering_as_sigma_falls(composition):
    s = random_strokes(n=2, k=3, primitive="cubic", half_width=1.0)
    hard = render_hard(s, (16, 16), composition=composition)
    assert hard.sum() > 20  # the strokes ink a fair share of the pixels
    gaps = [
        float((render(s, (16, 16), sigma, composition, temperature=0.01) - hard).abs().mean())
        for sigma in (2.0, 1.0, 0.5, 0.2, 0.05, 0.01)
    ]
    assert all(a > b for a, b in zip(gaps, gaps[1:])), gaps
    assert gaps[-1] < 1e-3 < gaps[0] / 100


def test_a_single_line_is_recovered_from_a_perturbed_start_to_sub_pixel_error():
    """Fit one line to the rendering of another; the end points agree (in either order) within half a pixel."""
    size = (16, 16)
    truth = torch.tensor([[[[0.2, 0.3], [0.75, 0.7]]]], dtype=torch.float64)
    ones = torch.ones(1, 1, dtype=torch.float64)
    target = render(Strokes(truth, 0 * ones, ones), size, sigma=1.0)
    g = torch.Generator().manual_seed(0)
    points = (truth + 0.12 * (2 * torch.rand(truth.shape, generator=g, dtype=torch.float64) - 1)).requires_grad_()
    start_error = (points.detach() - truth).abs().max() * 16
    optimiser = torch.optim.Adam([points], lr=0.01)
    for step in range(400):
        sigma = 2.0 * (1.0 / 2.0) ** min(step / 200, 1)  # wide first, then the target's own sigma
        optimiser.zero_grad()
        (render(Strokes(points, 0 * ones, ones), size, sigma) - target).pow(2).sum().backward()
        optimiser.step()
    found = points.detach()[0, 0] * 16
    end_points = truth[0, 0] * 16
    error = min((found - end_points).norm(dim=-1).max(), (found.flip(0) - end_points).norm(dim=-1).max())
    assert start_error > 1.0  # it starts more than a pixel away
    assert error < 0.5, f"end points off by {float(error):.3f} pixels"


# -- losses --------------------------------------------------------------------------------------
def test_multiscale_mse_averages_the_mse_of_2x_poolings():
    g = torch.Generator().manual_seed(0)
    x_hat, x = (
        torch.rand(3, 1, 8, 8, generator=g, dtype=torch.float64),
        torch.rand(3, 1, 8, 8, generator=g, dtype=torch.float64),
    )
    by_hand = [((x_hat - x) ** 2).mean()]
    for f in (2, 4):
        pool = lambda t, f=f: t.reshape(3, 1, 8 // f, f, 8 // f, f).mean(dim=(3, 5))  # noqa: E731
        by_hand.append(((pool(x_hat) - pool(x)) ** 2).mean())
    out = MultiScaleMSE(MultiScaleMSE.Config(levels=3))(x_hat, {"x": x})
    assert out.total.item() == pytest.approx(float(sum(by_hand) / 3), rel=1e-12)
    assert out.terms["mse"].item() == pytest.approx(float(by_hand[0]), rel=1e-12)


def test_gaussian_blur_keeps_the_mass_of_an_interior_impulse_and_spreads_it():
    x = torch.zeros(1, 1, 15, 15, dtype=torch.float64)
    x[0, 0, 7, 7] = 1.0
    y = gaussian_blur(x, 1.0)
    assert y.sum().item() == pytest.approx(1.0, rel=1e-12)
    assert y[0, 0, 7, 7] < 0.2 and torch.allclose(y, y.flip(-1)) and torch.allclose(y, y.transpose(-1, -2))


# -- PNG -----------------------------------------------------------------------------------------
def test_png_round_trip_and_a_corrupt_file_is_refused(tmp_path):
    g = np.random.default_rng(0)
    grey, rgb = g.integers(0, 256, (5, 7)) / 255, g.integers(0, 256, (4, 3, 3)) / 255
    write_png(tmp_path / "grey.png", grey)
    write_png(tmp_path / "rgb.png", rgb)
    assert np.array_equal(read_png(tmp_path / "grey.png")[..., 0], grey)
    assert np.array_equal(read_png(tmp_path / "rgb.png"), rgb)
    blob = bytearray((tmp_path / "grey.png").read_bytes())
    blob[40] ^= 0xFF  # inside the IDAT chunk
    (tmp_path / "bad.png").write_bytes(bytes(blob))
    with pytest.raises(PNGError, match="CRC"):
        read_png(tmp_path / "bad.png")


def test_png_reader_undoes_every_scanline_filter(tmp_path):
    """A file whose rows use filters 0-4, encoded here by the PNG specification's formulas."""
    import struct
    import zlib

    from dpzoo.plugins.drawing.png import SIGNATURE, chunk

    g = np.random.default_rng(1)
    pixels = g.integers(0, 256, (5, 4, 3)).astype(np.int64)  # RGB, 3 bytes per pixel
    rows = pixels.reshape(5, 12)
    raw = b""
    for y, kind in enumerate([0, 1, 2, 3, 4]):
        line, up = rows[y], rows[y - 1] if y else np.zeros(12, dtype=np.int64)
        left = np.concatenate([np.zeros(3, dtype=np.int64), line[:-3]])
        corner = np.concatenate([np.zeros(3, dtype=np.int64), up[:-3]])
        p = left + up - corner
        paeth = np.where(
            (abs(p - left) <= abs(p - up)) & (abs(p - left) <= abs(p - corner)),
            left,
            np.where(abs(p - up) <= abs(p - corner), up, corner),
        )
        predictor = [0 * line, left, up, (left + up) // 2, paeth][kind]
        raw += bytes([kind]) + ((line - predictor) % 256).astype(np.uint8).tobytes()
    header = struct.pack(">IIBBBBB", 4, 5, 8, 2, 0, 0, 0)
    (tmp_path / "f.png").write_bytes(
        SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    )
    assert np.array_equal(np.rint(read_png(tmp_path / "f.png") * 255), pixels)


# -- data ----------------------------------------------------------------------------------------
def test_sketch_targets_reads_a_folder_of_pngs_and_flips_light_grounds(tmp_path):
    dark_ink = np.ones((6, 6))
    dark_ink[2, 1:5] = 0.0  # a black bar on white paper
    write_png(tmp_path / "a.png", dark_ink)
    write_png(tmp_path / "b.png", 1 - dark_ink)
    data = dpzoo.create("dataset", "sketch_targets", source=str(tmp_path))
    assert data.info() == {"input_shape": [1, 6, 6], "num_images": 2}
    test = data.load()["test"].with_format("numpy")
    assert np.array_equal(test["i"], [0, 1])
    x = np.asarray(test["x"])
    assert x.shape == (2, 1, 6, 6)
    assert np.array_equal(x[0, 0], 1 - dark_ink) and np.array_equal(x[1, 0], 1 - dark_ink)


def test_sketch_targets_from_scikit_image_when_installed():
    pytest.importorskip("skimage", reason="scikit-image is not installed (it is an optional source, not a dependency)")
    data = dpzoo.create("dataset", "sketch_targets", source="skimage:camera", size=32)
    assert data.info()["input_shape"] == [1, 32, 32]


def test_a_missing_source_says_what_sources_exist():
    with pytest.raises(dpzoo.ConfigError, match="skimage:NAME"):
        dpzoo.create("dataset", "sketch_targets", source="/nonexistent/picture.png").info()


# -- sketching with the trainer ------------------------------------------------------------------
def test_sketching_with_the_trainer_anneals_sigma_and_logs_the_media(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    result = dpzoo.train(
        {
            "model": {"name": "sketch", "strokes": 3, "primitive": "quadratic"},
            "data": {"name": "sketch_targets", "count": 4},
            "optimiser": {"name": "adam", "lr": 0.02},
            "trainer": {"max_steps": 40, "progress": False, "device": "cpu", "media_every": 0, "log_every": 1},
            "logdir": str(tmp_path),
            "run_name": "sketch",
        }
    )
    events = EventAccumulator(str(result.run_dir), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    sigma = [e.value for e in events.Scalars("train/sigma")]
    assert len(sigma) == 40 and all(a > b for a, b in zip(sigma, sigma[1:]))
    assert sigma[0] == pytest.approx(2.0) and sigma[-1] == pytest.approx(0.7)  # the default exponential anneal
    assert result.model.sigma == pytest.approx(0.7)
    assert {"media/target", "media/render", "media/hard_render", "media/strokes"} <= set(events.Tags()["images"])
    x = torch.tensor(
        np.asarray(dpzoo.create("dataset", "sketch_targets", count=4).load()["test"].with_format("numpy")["x"])
    )
    blank = float(x.pow(2).mean())
    assert result.metrics["test/pixel_mse"] < 0.3 * blank  # the strokes draw most of the ink


# -- the learned sketcher and its zoo entries ----------------------------------------------------
def test_sketcher_builds_on_digits_and_mnist_shapes_and_predicts_strokes_in_the_image():
    for shape in ([1, 8, 8], [1, 28, 28]):
        model = dpzoo.create_model("sketcher", input_shape=shape, learn_width=True, learn_intensity=True).eval()
        x = torch.rand(3, *shape)
        strokes = model.strokes({"x": x})
        assert strokes.points.shape == (3, 4, 4, 2) and 0 <= strokes.points.min() and strokes.points.max() <= 1
        assert model({"x": x}).shape == (3, *shape)
        assert model.code_size() == 4 * (8 + 2)


def test_sketcher_trains_through_the_rasteriser(tmp_path):
    """40 steps take the validation error well below that of a blank drawing (0.23 on digits validation)."""
    result = dpzoo.train(
        {
            "model": "sketcher",
            "data": "digits",
            "optimiser": {"name": "adam", "lr": 3e-3},
            "trainer": {"max_steps": 40, "progress": False, "device": "cpu", "test": False, "media_every": 0},
            "logdir": str(tmp_path),
        }
    )
    assert result.metrics["validation/pixel_mse"] < 0.12
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(result.run_dir), size_guidance={"images": 0})
    events.Reload()
    strokes = events.Images("media/strokes")[-1]  # logged once at the end: 16 digits, strokes over each, enlarged 8x
    assert strokes.step == 40 and strokes.width > 4 * 64 and strokes.height > 4 * 64


@pytest.mark.parametrize("name", ["sketcher.digits", pytest.param("sketcher.mnist", marks=pytest.mark.slow)])
def test_zoo_entry_loads_by_name_and_matches_its_card(name, monkeypatch):
    from dpzoo.pretrained.verify import verify

    shared = Path(__file__).resolve().parents[2] / "shared" / "data"
    if not os.environ.get("DPZOO_DATA_DIR") and shared.is_dir():
        monkeypatch.setenv("DPZOO_DATA_DIR", str(shared))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = dpzoo.create_model(name, pretrained=True)
    card = dpzoo.model_card(name)
    assert card.command.startswith(f"dpzoo train --model sketcher --data {name.split('.')[1]}")
    assert card.headline.name == "test/pixel_mse"
    (result,) = verify(name)
    if result.status == "skipped":
        pytest.skip(result.problems[0])
    assert result.status == "ok", result.problems
    assert model.config.model_dump() == card.config


# -- dpzoo sketch --------------------------------------------------------------------------------
def digit_png(path: Path) -> np.ndarray:
    x = np.asarray(dpzoo.create("dataset", "digits").load()["test"].with_format("numpy")[:1]["x"])[0, 0]
    big = np.kron(x, np.ones((3, 3)))  # 24 x 24, as a scanned digit would be
    write_png(path, 1 - big)  # dark ink on white paper, as drawn
    return big


def test_dpzoo_sketch_writes_a_valid_svg_of_its_strokes(tmp_path, capsys):
    digit_png(tmp_path / "digit.png")
    out = tmp_path / "sketch.svg"
    assert main(["sketch", str(tmp_path / "digit.png"), "--lines", "4", "--steps", "40", "--out", str(out)]) == 0
    root = ET.parse(out).getroot()
    assert root.tag == SVG + "svg" and root.get("viewBox") == "0 0 192 192"
    paths = root.findall(SVG + "path")
    assert len(paths) == 4
    for p in paths:
        command, *numbers = p.get("d").split()
        assert command == "M" and numbers[2] == "L" and len(numbers) == 5
        assert all(-50 < float(v) < 250 for v in numbers[:2] + numbers[3:])
    assert "MSE" in capsys.readouterr().out


def test_dpzoo_sketch_writes_a_png_that_looks_like_the_digit(tmp_path):
    big = digit_png(tmp_path / "digit.png")
    out = tmp_path / "sketch.png"
    assert (
        main(
            ["sketch", str(tmp_path / "digit.png"), "--lines", "6", "--steps", "150", "--scale", "2", "--out", str(out)]
        )
        == 0
    )
    image = read_png(out)[..., 0]
    assert image.shape == (48, 48)
    drawn = image.reshape(24, 2, 24, 2).mean(axis=(1, 3))
    assert ((drawn - big) ** 2).mean() < 0.5 * (big**2).mean()


def test_dpzoo_sketch_refuses_an_unknown_output_format(tmp_path, capsys):
    digit_png(tmp_path / "digit.png")
    assert main(["sketch", str(tmp_path / "digit.png"), "--out", str(tmp_path / "x.jpg")]) == 2
    assert ".svg or .png" in capsys.readouterr().out


@pytest.mark.slow
def test_rebuilding_sketcher_digits_from_its_card_gives_the_same_weights(tmp_path):
    """The card's command, rerun with its thread count, gives the same tensors (or, on other CPU kernels, the same error)."""
    from dpzoo.pretrained.rebuild import rebuild

    card = dpzoo.model_card("sketcher.digits")
    report = rebuild("sketcher.digits", tmp_path / "out")
    assert report.drift == [] and report.rebuilt.command == card.command
    if report.same_environment:
        assert report.same_weights and report.metric_differences() == []
    else:  # pragma: no cover - depends on the machine
        assert abs(report.rebuilt.metric("test/pixel_mse").value - card.metric("test/pixel_mse").value) <= 0.002
