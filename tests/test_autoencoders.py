"""The autoencoders of chapter 13, checked against what the chapter says of them.

* a linear autoencoder trained with the MSE spans PCA's subspace and reaches
  its reconstruction error, without orthogonal weights;
* a denoising autoencoder reconstructs noisy inputs better than a plain one;
* the L1 penalty makes the code sparser as its weight lambda rises.

Each model trains through ``dpzoo.train`` on the 8x8 digits (labels unused).
"""

from __future__ import annotations

import math

import pytest
import torch

import dpzoo
from dpzoo.tables import to_arrays

MODELS = ["linear_ae", "ae", "conv_ae", "dae", "sparse_ae"]


def digits(split: str) -> torch.Tensor:
    return torch.from_numpy(to_arrays(dpzoo.create("dataset", "digits").load()[split], ["x"])["x"])


def train(tmp_path, model: dict, steps: int, **trainer):
    return dpzoo.train(
        {
            "model": model,
            "data": "digits",
            "logdir": str(tmp_path),
            "run_name": trainer.pop("run_name", None),
            "optimiser": {"name": "adam", "lr": trainer.pop("lr", 1e-3)},
            "trainer": {
                "max_steps": steps,
                "device": "cpu",
                "progress": False,
                "threads": 1,
                "validate_every": 0,
                "checkpoint_epochs": 0,
                "media_every": 0,
                **trainer,
            },
        }
    )


# -- the book's claims ------------------------------------------------------------------------
def test_linear_autoencoder_spans_pcas_subspace_and_reaches_its_error(tmp_path):
    m = 4  # the digits' 4th and 5th principal variances differ by 30%, so gradient descent settles fast
    result = train(tmp_path, {"name": "linear_ae", "code": m}, 1000, batch_size=1257, lr=0.03)  # full batch
    model = result.model.eval()
    x = digits("train").reshape(-1, 64).double()
    centred = x - x.mean(0)
    principal = torch.linalg.svd(centred, full_matrices=False).Vh[:m].T  # [64, m], orthonormal
    pca_error = ((centred - centred @ principal @ principal.T) ** 2).mean().item()
    with torch.no_grad():
        ae_error = ((model.reconstruct(x.float().reshape(-1, 1, 8, 8)).reshape(-1, 64).double() - x) ** 2).mean().item()
    assert pca_error <= ae_error <= 1.01 * pca_error  # PCA is optimal among rank-m reconstructions
    W_d = model.decoder.weight.detach().double()  # [64, m]: r - b_d lies in its column space
    basis = torch.linalg.qr(W_d).Q
    angles = torch.arccos(torch.linalg.svdvals(basis.T @ principal).clamp(max=1.0))
    assert angles.max() < 0.01, angles
    gram = W_d.T @ W_d
    assert (gram - torch.diag(gram.diagonal())).abs().max() > 0.05 * gram.diagonal().min()  # not orthogonal


def noisy_test_error(model, sigma: float = 0.5) -> float:
    x = digits("test")
    noisy = x + sigma * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        return ((model.eval().reconstruct(noisy) - x) ** 2).mean().item()


def test_denoising_autoencoder_reconstructs_noisy_inputs_better_than_the_plain_one(tmp_path):
    shape = {"hidden": [128], "code": 16}
    plain = train(tmp_path, {"name": "ae", **shape}, 600, run_name="plain")
    denoising = train(tmp_path, {"name": "dae", **shape, "corruption": "gaussian", "sigma": 0.5}, 600, run_name="dae")
    plain_error, denoising_error = noisy_test_error(plain.model), noisy_test_error(denoising.model)
    assert denoising_error < 0.8 * plain_error, (denoising_error, plain_error)


def test_the_sparse_codes_l1_norm_falls_as_lambda_rises(tmp_path):
    x = digits("test")
    norms = []
    for lam in (0.0, 1e-3, 1e-2):
        result = train(tmp_path, {"name": "sparse_ae", "code": 128, "lam": lam}, 400, run_name=f"lam{lam}")
        with torch.no_grad():
            norms.append(result.model.eval().encode(x).abs().sum(1).mean().item())
        assert "train/l1" in read_scalars(result.run_dir) or lam == 0.0
    assert norms[0] > norms[1] > norms[2], norms


def read_scalars(run_dir) -> set[str]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir))
    events.Reload()
    return set(events.Tags()["scalars"])


# -- the pieces ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("shape", [[1, 8, 8], [1, 28, 28]])
def test_every_autoencoder_encodes_and_decodes_to_the_input_shape(name, shape):
    model = dpzoo.create_model(name, input_shape=shape, code=5)
    x = torch.rand(3, *shape)
    h = model.encode(x)
    assert h.shape == (3, 5) and model.decode(h).shape == (3, *shape)
    out = model({"x": x})
    r = out["r"] if isinstance(out, dict) else out
    assert r.shape == x.shape


def test_linear_autoencoder_is_linear():
    model = dpzoo.create_model("linear_ae", input_shape=[1, 8, 8], code=3)
    a, b = torch.rand(2, 4, 1, 8, 8)
    r0 = model.reconstruct(torch.zeros(1, 1, 8, 8))  # the affine part, W_d b_e + b_d
    lhs = model.reconstruct(2 * a + b) - r0
    assert torch.allclose(lhs, 2 * (model.reconstruct(a) - r0) + (model.reconstruct(b) - r0), atol=1e-5)


def test_bce_reconstruction_decodes_through_a_sigmoid_into_the_unit_interval():
    model = dpzoo.create_model("ae", input_shape=[1, 8, 8], reconstruction="bce")
    assert model.default_loss == {"name": "bce_logits", "target": "x"}
    r = model.decode(100 * torch.randn(50, 16))
    assert r.min() >= 0 and r.max() <= 1


@pytest.mark.parametrize("rate", [0.1, 0.6])
def test_masking_zeroes_each_input_with_probability_rate_in_training_only(rate):
    model = dpzoo.create_model("dae", input_shape=[1, 8, 8], corruption="masking", rate=rate)
    x = torch.ones(2000, 1, 8, 8)
    zeroed = (model.corrupt(x, torch.Generator().manual_seed(0)) == 0).float().mean().item()
    assert abs(zeroed - rate) < 4 * math.sqrt(rate * (1 - rate) / x.numel())


def test_gaussian_corruption_adds_noise_of_standard_deviation_sigma():
    model = dpzoo.create_model("dae", input_shape=[1, 8, 8], sigma=0.3)
    x = torch.zeros(1000, 1, 8, 8)
    noise = model.corrupt(x, torch.Generator().manual_seed(0))
    assert noise.std().item() == pytest.approx(0.3, rel=0.02)
    model.eval()
    assert torch.equal(model({"x": x}), model.decoder(model.encode(x)).reshape(x.shape))  # no corruption in evaluation


def test_sparse_loss_adds_the_l1_penalty_and_logs_it_apart():
    model = dpzoo.create_model("sparse_ae", input_shape=[1, 8, 8], code=32, lam=0.5)
    x = torch.rand(6, 1, 8, 8)
    out = model({"x": x})
    h = model.encode(x)
    loss = dpzoo.create("loss", "reconstruction_l1")(out, {"x": x})
    assert torch.allclose(loss.terms["l1"], 0.5 * h.abs().sum(1).mean())
    assert torch.allclose(loss.terms["reconstruction"], ((out["r"] - x) ** 2).mean())
    assert torch.allclose(loss.total, loss.terms["reconstruction"] + loss.terms["l1"])


# -- bad input ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("rate", [1.0, -0.1, 1.5])
def test_a_corruption_rate_outside_zero_to_one_is_an_error_naming_the_key(rate):
    with pytest.raises(dpzoo.ConfigError, match=r"rate: Input should be (greater than or equal to 0|less than 1)"):
        dpzoo.create_model("dae", input_shape=[1, 8, 8], corruption="masking", rate=rate)


@pytest.mark.parametrize("name", MODELS)
def test_a_code_size_of_zero_is_an_error_naming_the_key(name):
    with pytest.raises(dpzoo.ConfigError, match="code: Input should be greater than or equal to 1"):
        dpzoo.create_model(name, input_shape=[1, 8, 8], code=0)


def test_bce_on_data_outside_the_unit_interval_names_the_key():
    model = dpzoo.create_model("ae", input_shape=[1, 8, 8], reconstruction="bce")
    with pytest.raises(dpzoo.ConfigError, match=r"model\.reconstruction=bce needs data in \[0, 1\]"):
        model({"x": torch.randn(4, 1, 8, 8)})


def test_too_many_stride_two_stages_for_the_image_names_the_key():
    with pytest.raises(dpzoo.ConfigError, match=r"model\.channels=\[8, 16, 32\].*divisible by 8"):
        dpzoo.create_model("conv_ae", input_shape=[1, 28, 28], channels=[8, 16, 32])


@pytest.mark.parametrize("name", MODELS)
def test_each_autoencoder_trains_on_unlabelled_images_with_its_defaults_and_logs_reconstructions(name, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    result = dpzoo.train(
        {
            "model": name,
            "data": "digits",
            "logdir": str(tmp_path),
            "trainer": {"max_steps": 20, "device": "cpu", "progress": False, "threads": 1},
        }
    )
    assert result.config["loss"]["target"] == "x" and result.config["metrics"] == []
    assert {k.partition("/")[2] for k in result.metrics if "/" in k} <= {"loss", "reconstruction", "l1"}  # no accuracy
    events = EventAccumulator(str(result.run_dir), size_guidance={"images": 0})
    events.Reload()
    image = events.Images("media/reconstructions")[-1]
    rows = 3 if name == "dae" else 2  # inputs, (corrupted inputs,) reconstructions
    assert image.height * 8 == pytest.approx(rows * image.width, rel=0.1)


@pytest.mark.slow
@pytest.mark.parametrize("m", [8, 16, 32])
def test_linear_autoencoder_reaches_pcas_error_within_one_percent_at_larger_code_sizes(m, tmp_path):
    result = train(tmp_path, {"name": "linear_ae", "code": m}, 1000, batch_size=1257, lr=0.03)
    x = digits("train").reshape(-1, 64).double()
    centred = x - x.mean(0)
    principal = torch.linalg.svd(centred, full_matrices=False).Vh[:m].T
    pca_error = ((centred - centred @ principal @ principal.T) ** 2).mean().item()
    with torch.no_grad():
        ae_error = (
            ((result.model.eval().reconstruct(x.float().reshape(-1, 1, 8, 8)).reshape(-1, 64).double() - x) ** 2)
            .mean()
            .item()
        )
    assert pca_error <= ae_error <= 1.01 * pca_error


# -- zoo entries: their cards are re-evaluated by tests/test_zoo.py; here, what the figures mean --------
def pca_test_error(m: int) -> float:
    """Mean squared error per pixel of the test images projected on the train split's first m principal axes."""
    x, t = digits("train").reshape(-1, 64).double(), digits("test").reshape(-1, 64).double()
    mean = x.mean(0)
    axes = torch.linalg.svd(x - mean, full_matrices=False).Vh[:m].T
    return (((t - mean) @ axes @ axes.T + mean - t) ** 2).mean().item()


def test_the_deep_autoencoder_entry_beats_pca_with_as_many_components():
    card = dpzoo.model_card("ae.digits")
    assert card.command.startswith("dpzoo train --model ae --data digits")
    assert card.metric("test/loss").value < pca_test_error(card.config["code"])
    model = dpzoo.create_model("ae.digits", pretrained=True).eval()
    with torch.no_grad():
        assert ((model.reconstruct(digits("test")) - digits("test")) ** 2).mean().item() == pytest.approx(
            card.metric("test/loss").value, rel=1e-5
        )


@pytest.mark.parametrize("sigma", [0.25, 0.5])
def test_the_denoising_entry_reconstructs_noisy_test_images_better_than_the_plain_entry(sigma):
    plain = dpzoo.create_model("ae.digits", pretrained=True)
    denoising = dpzoo.create_model("dae.digits", pretrained=True)
    assert {
        k: v for k, v in denoising.config.model_dump().items() if k in type(plain.config).model_fields
    } == plain.config.model_dump()
    assert noisy_test_error(denoising, sigma) < 0.8 * noisy_test_error(plain, sigma)


@pytest.fixture
def mnist(monkeypatch):
    """MNIST's splits from $DPZOO_DATA_DIR or ../shared/data (skips, saying why, without them)."""
    import os
    from pathlib import Path

    shared = Path(__file__).resolve().parents[2] / "shared" / "data"
    if not os.environ.get("DPZOO_DATA_DIR"):
        if not shared.is_dir():
            pytest.skip("MNIST's IDX files are not here: set DPZOO_DATA_DIR to a directory holding mnist/")
        monkeypatch.setenv("DPZOO_DATA_DIR", str(shared))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    splits = dpzoo.create("dataset", "mnist").load()
    return {name: torch.from_numpy(to_arrays(split, ["x"])["x"]).float() / 255 for name, split in splits.items()}


@pytest.mark.slow
def test_the_mnist_autoencoder_entry_beats_pca_with_as_many_components(mnist):
    card = dpzoo.model_card("ae.mnist")
    x, t = mnist["train"].reshape(-1, 784).double(), mnist["test"].reshape(-1, 784).double()
    mean = x.mean(0)
    axes = torch.linalg.eigh((x - mean).T @ (x - mean)).eigenvectors[:, -card.config["code"] :]  # largest eigenvalues
    pca_error = (((t - mean) @ axes @ axes.T + mean - t) ** 2).mean().item()
    assert card.metric("test/loss").value < 0.6 * pca_error


@pytest.mark.slow
def test_the_mnist_denoising_entry_reconstructs_noisy_test_images_better_than_the_plain_entry(mnist):
    x = mnist["test"]
    noisy = x + 0.5 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    errors = {}
    for name in ("ae.mnist", "dae.mnist"):
        with torch.no_grad():
            errors[name] = (
                ((dpzoo.create_model(name, pretrained=True).eval().reconstruct(noisy) - x) ** 2).mean().item()
            )
    assert errors["dae.mnist"] < 0.5 * errors["ae.mnist"], errors


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ae.digits", "vae.digits"])
def test_a_digits_entry_rebuilds_from_its_card_to_the_same_weights(name, tmp_path):
    """Where the CPU kernels, PyTorch and thread count match the card's, the rebuild is bit for bit."""
    from dpzoo.pretrained.rebuild import rebuild

    report = rebuild(name, tmp_path / "out")
    assert report.drift == []
    if report.same_environment:
        assert report.same_weights and report.metric_differences() == []
    else:  # pragma: no cover - depends on the machine
        assert abs(report.rebuilt.metrics[0].value - report.card.metrics[0].value) <= 0.05 * abs(
            report.card.metrics[0].value
        )
