"""Generative adversarial networks (chapter 14.3): the book's statements, checked on the plugin's parts.

The optimal discriminator D* = p_data / (p_data + p_g) and the value -log 4
at equilibrium, the saturation of the minimax generator loss where
D(G(z)) ~ 0, the DCGAN architecture guidelines, each phase of the step
moving only its own network, and the Fréchet distance and Inception-style
score re-derived in float64.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import dpzoo
from dpzoo.plugins.gan.frechet import FrechetDistance, Moments, frechet_distance
from dpzoo.plugins.gan.inception_score import InceptionScore, inception_score
from dpzoo.plugins.gan.losses import discriminator_loss, generator_loss
from dpzoo.plugins.gan.model import DCGAN

DIGITS, MNIST = [1, 8, 8], [1, 28, 28]


def build(shape=DIGITS, seed: int = 0, **config) -> DCGAN:
    torch.manual_seed(seed)
    return dpzoo.create_model("dcgan", input_shape=shape, **config)


# -- the adversarial objective ------------------------------------------------------------
def normal_quantiles(mu: float, sigma: float, n: int = 20_000) -> torch.Tensor:
    """n evenly spaced quantiles of N(mu, sigma^2): a sample whose mean is the expectation to O(1/n)."""
    u = (torch.arange(n, dtype=torch.float64) + 0.5) / n
    return mu + sigma * torch.special.ndtri(u)


def log_normal(x: torch.Tensor, mu: float, sigma: float) -> torch.Tensor:
    return -0.5 * ((x - mu) / sigma) ** 2 - math.log(sigma * math.sqrt(2 * math.pi))


def best_discriminator(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Coefficients of the logit d(x) = a + b x + c x^2 minimising the discriminator loss."""
    theta = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.LBFGS(
        [theta], lr=1, max_iter=500, tolerance_grad=1e-12, tolerance_change=1e-15, line_search_fn="strong_wolfe"
    )

    def logit(x):
        return theta[0] + theta[1] * x + theta[2] * x**2

    def closure():
        optimiser.zero_grad()
        loss = discriminator_loss(logit(real), logit(fake))
        loss.backward()
        return loss

    optimiser.step(closure)
    return theta.detach()


def test_the_best_discriminator_is_p_data_over_p_data_plus_p_g():
    """1-d toy: p_data = N(0, 1), p_g = N(1, 1.5^2); the log-ratio is quadratic, so d(x) = a + bx + cx^2 can reach D*."""
    real, fake = normal_quantiles(0.0, 1.0), normal_quantiles(1.0, 1.5)
    a, b, c = best_discriminator(real, fake)
    x = torch.linspace(-2, 3, 51, dtype=torch.float64)
    learned = torch.sigmoid(a + b * x + c * x**2)
    p_data, p_g = log_normal(x, 0.0, 1.0).exp(), log_normal(x, 1.0, 1.5).exp()
    torch.testing.assert_close(learned, p_data / (p_data + p_g), atol=2e-3, rtol=0)


def test_at_equilibrium_the_best_discriminator_says_one_half_and_the_value_is_minus_log_4():
    same = normal_quantiles(0.0, 1.0)
    theta = best_discriminator(same, same)
    torch.testing.assert_close(theta, torch.zeros(3, dtype=torch.float64), atol=1e-6, rtol=0)
    half = torch.zeros(5, dtype=torch.float64)  # logit 0: D = 1/2
    assert discriminator_loss(half, half).item() == pytest.approx(math.log(4), abs=1e-12)  # L_D = -V = log 4


def test_minimax_saturates_where_the_non_saturating_loss_does_not():
    """At D(G(z)) ~ 0: dL/da = -D for minimax (-> 0), -(1 - D) for the non-saturating loss (-> -1)."""
    a = torch.full((4,), -10.0, dtype=torch.float64, requires_grad=True)  # D(G(z)) = sigmoid(-10) ~ 4.5e-5
    d = torch.sigmoid(a.detach())
    (minimax,) = torch.autograd.grad(generator_loss(a, "minimax"), a)
    (non_saturating,) = torch.autograd.grad(generator_loss(a, "non_saturating"), a)
    torch.testing.assert_close(minimax, -d / 4, rtol=1e-12, atol=0)  # the mean over 4 samples divides by 4
    torch.testing.assert_close(non_saturating, -(1 - d) / 4, rtol=1e-12, atol=0)
    assert non_saturating.abs().min() > 1e4 * minimax.abs().max()
    # the same fixed point: both push d(G(z)) up, and both losses fall as D(G(z)) rises
    assert (minimax < 0).all() and (non_saturating < 0).all()


def test_an_unknown_generator_loss_names_the_choices():
    with pytest.raises(dpzoo.ConfigError, match="non_saturating"):
        build(generator_loss="wasserstein")


# -- the architecture guidelines -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("shape", "base_layers"),
    [(DIGITS, 0), (MNIST, 0), (MNIST, 2)],
    ids=["digits-8x8", "mnist-28x28", "mnist-28x28-two-base-layers"],
)
def test_the_dcgan_guidelines_hold_at_both_sizes(shape, base_layers):
    model = build(shape, base_layers=base_layers)
    g, d = list(model.generator.modules()), list(model.discriminator.modules())
    pooling = (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.LPPool2d)
    assert not any(isinstance(m, pooling) for m in g + d)  # strided convolutions resample instead
    assert not any(isinstance(m, nn.Linear) for m in g + d)  # no fully connected hidden layer
    d_convs = [m for m in d if type(m) is nn.Conv2d]
    d_hidden, d_base, d_logit = d_convs[:2], d_convs[2:-1], d_convs[-1]  # two stages at both sizes
    assert all(m.stride == (2, 2) for m in d_hidden)  # every hidden layer halves the image ...
    assert len(d_base) == base_layers and all(m.stride == (1, 1) and m.kernel_size == (3, 3) for m in d_base)
    assert d_logit.out_channels == 1  # ... up to the base, where the extra layers keep its size
    g_convs = [m for m in g if isinstance(m, nn.ConvTranspose2d)]
    assert all(m.stride == (2, 2) for m in g_convs[1:])  # every layer after the projection doubles it
    g_base = [m for m in g if type(m) is nn.Conv2d]
    assert len(g_base) == base_layers and all(m.stride == (1, 1) and m.kernel_size == (3, 3) for m in g_base)
    # batch norm after every hidden layer but the discriminator's first (its input) and the generator's output
    assert sum(isinstance(m, nn.BatchNorm2d) for m in g) == 2 + base_layers
    assert sum(isinstance(m, nn.BatchNorm2d) for m in d) == 1 + base_layers
    g_activations = [m for m in g if isinstance(m, (nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid))]
    assert all(type(m) is nn.ReLU for m in g_activations[:-1]) and type(g_activations[-1]) is nn.Tanh
    d_activations = [m for m in d if isinstance(m, (nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid))]
    assert d_activations and all(type(m) is nn.LeakyReLU for m in d_activations)
    z = model.noise(5)
    x = model.generator(z)
    assert x.shape == (5, *shape) and x.abs().max() <= 1
    assert model.discriminator(x).shape == (5,)


def test_weights_are_drawn_from_n_0_0_02():
    model = build(MNIST, width=64)
    weights = torch.cat([m.weight.flatten() for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))])
    assert weights.mean().abs() < 1e-3 and weights.std().item() == pytest.approx(0.02, rel=0.02)
    scales = torch.cat([m.weight for m in model.modules() if isinstance(m, nn.BatchNorm2d)])
    assert scales.mean().item() == pytest.approx(1.0, abs=0.01)


def test_an_image_side_that_the_stages_cannot_halve_says_what_to_change():
    with pytest.raises(dpzoo.ConfigError, match="model.stages"):
        build([1, 28, 28], stages=3)  # 28 is not a multiple of 8


def test_samples_are_images_in_0_1_fixed_by_their_seed():
    model = build()
    a, b = model.sample(6, seed=3), model.sample(6, seed=3)
    assert a.shape == (6, 1, 8, 8) and torch.equal(a, b)
    assert 0 <= a.min() and a.max() <= 1
    assert not torch.equal(a, model.sample(6, seed=4))
    assert model.generator.training  # sample() used the running statistics and left the mode alone


def test_every_evaluation_scores_the_same_samples():
    model = build().eval()
    batch = {"x": torch.zeros(10, 1, 8, 8)}
    first = model(batch)
    assert not torch.equal(first, model(batch))  # successive batches draw new noise...
    model.train()
    model.eval()
    assert torch.equal(first, model(batch))  # ...and each evaluation starts the same stream again


# -- the Fréchet distance ----------------------------------------------------------------------
def random_covariance(dim: int, seed: int) -> torch.Tensor:
    a = torch.randn(dim, dim, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    return a @ a.T / dim + 0.1 * torch.eye(dim, dtype=torch.float64)


def test_frechet_distance_matches_the_closed_form_for_known_gaussians():
    """For commuting (diagonal) covariances d^2 = |mu_1 - mu_2|^2 + sum (sigma_1 - sigma_2)^2."""
    mu_1, mu_2 = torch.tensor([0.0, 1.0, -2.0]), torch.tensor([1.0, 1.0, 0.5])
    s_1, s_2 = torch.tensor([1.0, 2.0, 0.5]), torch.tensor([3.0, 0.5, 0.5])
    expected = (mu_1 - mu_2).square().sum() + (s_1 - s_2).square().sum()
    got = frechet_distance(mu_1, torch.diag(s_1**2), mu_2, torch.diag(s_2**2))
    assert got == pytest.approx(expected.item(), rel=1e-12)


def test_frechet_distance_matches_scipy_sqrtm_for_general_covariances():
    scipy_linalg = pytest.importorskip("scipy.linalg")
    sigma_1, sigma_2 = random_covariance(6, 1), random_covariance(6, 2)
    mu_1, mu_2 = torch.zeros(6, dtype=torch.float64), torch.linspace(-1, 1, 6, dtype=torch.float64)
    root = scipy_linalg.sqrtm((sigma_1 @ sigma_2).numpy()).real
    expected = float((mu_1 - mu_2).square().sum() + torch.trace(sigma_1 + sigma_2) - 2 * root.trace())
    assert frechet_distance(mu_1, sigma_1, mu_2, sigma_2) == pytest.approx(expected, rel=1e-9)


def test_frechet_distance_is_zero_for_identical_sets_and_grows_as_the_square_of_a_shift():
    features = torch.randn(500, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    same = Moments()
    same.add(features)
    assert frechet_distance(*same.mean_and_covariance(), *same.mean_and_covariance()) == pytest.approx(0, abs=1e-9)
    distances = []
    for step in (0.5, 1.0, 2.0):
        shifted = Moments()
        shifted.add(features + step)  # the covariance is unchanged: d^2 = |delta|^2 = 4 step^2
        distances.append(frechet_distance(*same.mean_and_covariance(), *shifted.mean_and_covariance()))
        assert distances[-1] == pytest.approx(4 * step**2, rel=1e-9)
    assert distances == sorted(distances)


def test_running_moments_over_batches_equal_those_of_the_whole_set():
    features = torch.randn(300, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    whole, parts = Moments(), Moments()
    whole.add(features)
    for chunk in features.split(64):
        parts.add(chunk)
    mu, sigma = parts.mean_and_covariance()
    torch.testing.assert_close(mu, features.mean(0))
    torch.testing.assert_close(sigma, torch.cov(features.T))
    torch.testing.assert_close(sigma, whole.mean_and_covariance()[1])


def test_sample_moments_converge_to_those_of_the_gaussians_they_come_from():
    """Sets drawn from N(0, S_1) and N(mu, S_2): the estimated distance tends to the exact one."""
    generator = torch.Generator().manual_seed(2)
    sigma_1, sigma_2 = random_covariance(3, 3), random_covariance(3, 4)
    mu = torch.tensor([1.0, -1.0, 0.5], dtype=torch.float64)
    exact = frechet_distance(torch.zeros(3), sigma_1, mu, sigma_2)
    a, b = Moments(), Moments()
    n = 200_000
    a.add(torch.randn(n, 3, dtype=torch.float64, generator=generator) @ torch.linalg.cholesky(sigma_1).T)
    b.add(mu + torch.randn(n, 3, dtype=torch.float64, generator=generator) @ torch.linalg.cholesky(sigma_2).T)
    assert frechet_distance(*a.mean_and_covariance(), *b.mean_and_covariance()) == pytest.approx(exact, rel=0.02)


# -- the Inception-style score ---------------------------------------------------------------
def test_inception_score_is_k_for_confident_even_classes_and_1_for_one_class():
    k = 10
    assert inception_score(torch.eye(k)) == pytest.approx(k, rel=1e-12)
    assert inception_score(torch.eye(k)[[3] * 7]) == pytest.approx(1.0, rel=1e-12)
    assert inception_score(torch.full((5, k), 1 / k)) == pytest.approx(1.0, rel=1e-12)


def test_inception_score_streamed_over_batches_equals_the_direct_formula(monkeypatch):
    """The metric's running sums reproduce exp(mean KL(p(y|x) || p(y))) computed on the whole set."""
    from dpzoo.plugins.gan import inception_score as module

    logits = torch.randn(200, 10, generator=torch.Generator().manual_seed(5)) * 3
    fake_classifier = {"logits": None}
    monkeypatch.setattr(module, "load_classifier", lambda name: nn.Identity())
    monkeypatch.setattr(module, "features_and_logits", lambda classifier, images: (images, fake_classifier["logits"]))
    metric = InceptionScore()
    metric.reset()
    for chunk in logits.split(64):
        fake_classifier["logits"] = chunk
        metric.update(torch.zeros(len(chunk), 1, 8, 8), {})
    assert metric.compute() == pytest.approx(inception_score(torch.softmax(logits.double(), -1)), rel=1e-12)


# -- the scores with the zoo's own classifier ---------------------------------------------------
def digits_test_images() -> torch.Tensor:
    from dpzoo.tables import to_arrays

    return torch.from_numpy(to_arrays(dpzoo.create("dataset", "digits").load()["test"], ["x"])["x"])


def test_real_digits_score_near_zero_distance_to_themselves_and_high_inception_score():
    x = digits_test_images()
    frechet, score = FrechetDistance(), InceptionScore()
    for metric in (frechet, score):
        metric.reset()
        for chunk in x.split(100):
            metric.update(chunk, {"x": chunk})
    assert frechet.compute() == pytest.approx(0, abs=1e-6)
    assert score.compute() > 9.0  # cnn.digits is 99.4% accurate on these and the classes are even


def test_the_default_scorers_hold_the_weights_the_gan_cards_were_measured_with():
    from dpzoo.plugins.gan.classifier import BY_IMAGE_SIDE, PINNED_WEIGHTS

    assert set(BY_IMAGE_SIDE.values()) == set(PINNED_WEIGHTS)
    for name, digest in PINNED_WEIGHTS.items():
        assert dpzoo.model_card(name).weights_sha256 == digest, name
    # the zoo's best MNIST classifier is another entry with other weights: it never scores GANs by default
    assert dpzoo.model_card("cnn.mnist").weights_sha256 != PINNED_WEIGHTS["cnn.mnist.scorer"]


def test_a_republished_scorer_is_refused_by_every_gan_score(monkeypatch):
    from dpzoo.plugins.gan import classifier

    classifier.load_classifier.cache_clear()
    monkeypatch.setitem(classifier.PINNED_WEIGHTS, "cnn.digits", "0" * 64)  # as if cnn.digits had been republished
    x = digits_test_images()[:100]
    try:
        for metric in (FrechetDistance(), InceptionScore()):
            metric.reset()
            with pytest.raises(dpzoo.IntegrityError, match=f"cnn.digits with tensors sha256 {'0' * 64}.*another name"):
                metric.update(x, {"x": x})
    finally:
        classifier.load_classifier.cache_clear()


def test_an_untrained_generator_is_far_from_the_data():
    x = digits_test_images()
    model = build().eval()
    frechet, score = FrechetDistance(), InceptionScore()
    for metric in (frechet, score):
        metric.reset()
    for chunk in x.split(100):
        fake = model({"x": chunk})
        frechet.update(fake, {"x": chunk})
        score.update(fake, {"x": chunk})
    assert frechet.compute() > 50
    assert score.compute() < 2


# -- training through the trainer's manual step ---------------------------------------------
def digits_splits(n: int = 128):
    from dpzoo.tables import to_arrays
    from dpzoo.trainer import InMemorySplits

    dataset = dpzoo.create("dataset", "digits")
    loaded = dataset.load()
    arrays = {s: to_arrays(loaded[s], ["x", "y"]) for s in ("train", "validation")}
    columns = {s: {k: torch.from_numpy(v[:n]) for k, v in a.items()} for s, a in arrays.items()}
    return InMemorySplits(columns, dataset.transform)


def snapshot(module: nn.Module, grads: bool = False) -> dict[str, torch.Tensor]:
    return {
        name: (p.grad.clone() if p.grad is not None else None) if grads else p.detach().clone()
        for name, p in module.named_parameters()
    }


def changed(before: dict, after: dict) -> set[str]:
    return {
        k
        for k in before
        if not (before[k] is None and after[k] is None)
        and (before[k] is None or after[k] is None or not torch.equal(before[k], after[k]))
    }


def test_each_phase_of_the_step_moves_only_its_own_network():
    """Through the real trainer: after ctx.optimise("discriminator") the generator is bit-identical, and vice versa."""
    from dpzoo.trainer import TrainConfig, Trainer
    from dpzoo.trainer.context import StepContext

    model = build(discriminator_steps=2)
    phases = []

    class Spy(StepContext):
        def optimise(self, name, loss):
            before = {part: snapshot(getattr(model, part)) for part in ("generator", "discriminator")}
            grads = {part: snapshot(getattr(model, part), grads=True) for part in ("generator", "discriminator")}
            super().optimise(name, loss)
            after = {part: snapshot(getattr(model, part)) for part in ("generator", "discriminator")}
            grads_after = {part: snapshot(getattr(model, part), grads=True) for part in ("generator", "discriminator")}
            phases.append(
                (
                    name,
                    {p: changed(before[p], after[p]) for p in before},
                    {p: changed(grads[p], grads_after[p]) for p in grads},
                )
            )

    trainer = Trainer(TrainConfig(max_steps=2, batch_size=32, validate_every=0, test=False, progress=False))
    trainer.ctx = Spy(trainer)
    optimisers = {
        name: torch.optim.Adam(params, lr=2e-4, betas=(0.5, 0.999)) for name, params in model.parameter_groups().items()
    }
    trainer.fit(model, digits_splits(), optimisers=optimisers)
    assert [name for name, _, _ in phases] == ["discriminator", "discriminator", "generator"] * 2
    assert trainer.ctx.optimiser_steps == {"discriminator": 4, "generator": 2}
    for name, moved, touched in phases:
        other = "generator" if name == "discriminator" else "discriminator"
        assert moved[other] == set() and touched[other] == set(), (name, moved[other], touched[other])
        assert moved[name] == set(snapshot(getattr(model, name))), name  # every one of its own parameters stepped


# -- the generator's weight average ----------------------------------------------------------
def test_without_an_average_the_model_keeps_none_and_samples_from_the_generator():
    model = build()
    assert not any(name.startswith("generator_average") for name in model.state_dict())  # older cards load unchanged
    assert model.sampler is model.generator


def train_steps(model: DCGAN, steps: int):
    from dpzoo.trainer import TrainConfig, Trainer

    trainer = Trainer(TrainConfig(max_steps=steps, batch_size=32, validate_every=0, test=False, progress=False))
    optimisers = {
        name: torch.optim.Adam(params, lr=1e-3, betas=(0.5, 0.999)) for name, params in model.parameter_groups().items()
    }
    trainer.fit(model, digits_splits(), optimisers=optimisers)


def test_the_average_follows_each_generator_step_and_no_optimiser_holds_it():
    """After every step theta_ema = beta theta_ema + (1 - beta) theta, running statistics included."""
    beta = 0.75
    model = build(generator_ema=beta)
    grouped = {id(p) for params in model.parameter_groups().values() for p in params}
    assert not any(id(p) in grouped or p.requires_grad for p in model.generator_average.parameters())
    expected = {k: v.clone() for k, v in model.generator.state_dict().items()}
    torch.testing.assert_close(model.generator_average.state_dict(), expected, rtol=0, atol=0)  # starts at the init
    original = DCGAN.update_average
    seen = []

    def record(self):
        for name, value in self.generator.state_dict().items():  # the generator just stepped: fold it in by hand
            expected[name] = beta * expected[name] + (1 - beta) * value if value.is_floating_point() else value.clone()
        original(self)
        seen.append(1)

    DCGAN.update_average = record
    try:
        train_steps(model, 3)
    finally:
        DCGAN.update_average = original
    assert len(seen) == 3  # once per generator step
    torch.testing.assert_close(model.generator_average.state_dict(), expected, rtol=1e-6, atol=1e-7)
    assert not torch.equal(model.generator_average.net[0].weight, model.generator.net[0].weight)


def test_samples_and_evaluation_come_from_the_average_on_statistics_of_its_own_activations():
    from dpzoo.plugins.gan.model import CALIBRATION_BATCH, CALIBRATION_SAMPLES

    model = build(generator_ema=0.9)
    train_steps(model, 2)
    average = model.generator_average
    statistics = model.average_statistics()
    draws = torch.Generator().manual_seed(model.config.eval_seed)  # the calibration's noise, drawn again by hand
    z = torch.cat(
        [model.noise(CALIBRATION_BATCH, generator=draws) for _ in range(CALIBRATION_SAMPLES // CALIBRATION_BATCH)]
    )
    with torch.no_grad():
        first = average.net[0](z[:, :, None, None])  # the input of the first batch norm, [N, C, h, w]
    torch.testing.assert_close(statistics["net.1.running_mean"], first.mean(dim=(0, 2, 3)), rtol=1e-4, atol=1e-6)
    assert not torch.allclose(statistics["net.1.running_mean"], average.net[1].running_mean)  # not the averaged ones

    model.train()
    assert model.sampler is average and not average.training  # the average only ever generates
    z = model.noise(8, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        expected = (torch.func.functional_call(average, statistics, (z,)) + 1) / 2
        raw = (model.generator.eval()(z) + 1) / 2
    torch.testing.assert_close(model.sample(8, seed=3), expected, rtol=0, atol=0)
    assert not torch.allclose(expected, raw)
    model.eval()
    eval_z = model.noise(8, generator=torch.Generator().manual_seed(model.config.eval_seed))
    with torch.no_grad():
        torch.testing.assert_close(
            model({"x": torch.zeros(8, *DIGITS)}),
            (torch.func.functional_call(average, statistics, (eval_z,)) + 1) / 2,
            rtol=0,
            atol=0,
        )


def test_the_averages_statistics_are_measured_again_after_an_update_or_a_load():
    model = build(generator_ema=0.9)
    first = model.average_statistics()
    assert model.average_statistics() is first  # cached while the weights stay
    model.update_average()  # the generator has not moved, but the average's storage was written
    second = model.average_statistics()
    assert second is not first
    other = build(seed=1, generator_ema=0.9)
    model.load_state_dict(other.state_dict())
    loaded = model.average_statistics()
    torch.testing.assert_close(loaded, other.average_statistics(), rtol=0, atol=0)
    assert not torch.allclose(loaded["net.1.running_mean"], second["net.1.running_mean"])


def test_a_card_says_a_dataset_level_score_is_computed_once_and_a_per_example_one_is_a_mean():
    """The "how" line a published card carries for each metric (``dpzoo zoo publish``)."""
    from types import SimpleNamespace

    from dpzoo.pretrained.publish import _how

    config, loaded = {"metrics": ["frechet_distance", "accuracy"]}, SimpleNamespace(examples={"test": 360})
    frechet, accuracy = (_how(f"test/{name}", config, loaded, 1024) for name in ("frechet_distance", "accuracy"))
    assert frechet.startswith("metric 'frechet_distance', computed once from all 360 examples of split 'test'"), frechet
    assert "mean" not in frechet
    assert accuracy.startswith("metric 'accuracy', mean over all 360 examples of split 'test'"), accuracy
    assert "batches of 1024 in order" in accuracy


def test_a_text_card_says_how_its_evaluation_windows_were_cut():
    from types import SimpleNamespace

    from dpzoo.pretrained.publish import _how
    from dpzoo.trainer.sequences import SequenceSplits

    stream = {"x": torch.arange(100)}
    for overlap, says in [(0, "4 rows read 16 positions at a time, in order (dpzoo"), (6, "at least 6 before it")]:
        spec = {"batching": "windows", "block": 16, "eval_rows": 4, "eval_overlap": overlap}
        loaded = SimpleNamespace(examples={"test": 100}, data=SequenceSplits({"test": stream}, spec))
        how = _how("test/bits_per_char", {"metrics": ["bits_per_char"]}, loaded, 1024)
        assert says in how and "batches of 1024" not in how, how


def events(run_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(run_dir), size_guidance={"images": 0, "scalars": 0})
    accumulator.Reload()
    return accumulator


def test_training_logs_both_losses_the_scores_and_a_sample_grid_each_epoch(tmp_path):
    result = dpzoo.train(
        {
            "model": {"name": "dcgan", "width": 8},
            "data": "digits",
            "trainer": {
                "epochs": 2,
                "batch_size": 128,
                "threads": 1,
                "log_every": 5,
                "progress": False,
                "media_seconds": None,  # a grid after every epoch, however short (by default: 10 s apart at least)
            },
            "logdir": str(tmp_path),
            "run_name": "gan",
        }
    )
    optimisers = result.config["optimisers"]
    assert set(optimisers) == {"discriminator", "generator"}
    for section in optimisers.values():  # Radford et al.'s Adam, per group, unless the user says otherwise
        assert section["name"] == "adam" and section["lr"] == 2e-4 and list(section["betas"]) == [0.5, 0.999]
    assert result.config["metrics"] == ["frechet_distance", "inception_score"]
    logged = events(result.run_dir)
    scalars = set(logged.Tags()["scalars"])
    assert {
        "train/discriminator_loss",
        "train/generator_loss",
        "train/lr/discriminator",
        "train/lr/generator",
    } <= scalars
    for name in ("frechet_distance", "inception_score"):
        values = [e.value for e in logged.Scalars(f"validation/{name}")]
        assert len(values) == 2 and all(math.isfinite(v) for v in values)  # once per epoch
        assert result.metrics[f"test/{name}"] == pytest.approx(logged.Scalars(f"test/{name}")[-1].value)
    grids = logged.Images("samples")
    assert len({e.step for e in grids}) >= 2  # after each epoch (and at the end)
    assert grids[0].width == grids[0].height > 8 * 8  # an 8x8 grid of 8x8 digits, enlarged
    assert result.metrics["test/frechet_distance"] > 0


# -- data-parallel manual mode ---------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.skipif(not torch.distributed.is_available(), reason="this PyTorch build has no torch.distributed")
def test_two_processes_with_half_batches_train_the_gan_as_one_with_whole_batches(tmp_path):
    """torchrun, gloo: each process takes half of each batch and its share of the noise; gradients are averaged.

    Batch norm normalises each process's half batch by its own statistics (as
    DDP without SyncBatchNorm does), which one process with the whole batch
    cannot match, so this comparison turns it off (``model.batch_norm=false``);
    ``--optimiser`` replaces the model's per-group Adam in both groups.
    """
    from conftest import run_cli, train_under_torchrun
    from safetensors.torch import load_file

    steps = [
        "--max-steps",
        "4",
        "--set",
        "trainer.validate_every=0",
        "--set",
        "trainer.test=false",
        "--set",
        "model.batch_norm=false",
        "--set",
        "model.width=8",
        "--set",
        "model.discriminator_steps=2",
        "--optimiser",
        "sgd",
        "--lr",
        "0.05",
    ]  # Adam's g / sqrt(v) would magnify float-order noise in near-zero gradients
    single = run_cli(
        "train",
        "--model",
        "dcgan",
        "--data",
        "digits",
        "--batch-size",
        "64",
        *steps,
        "--logdir",
        str(tmp_path),
        "--run-name",
        "single",
    )
    assert single.returncode == 0, single.stderr[-3000:]
    ddp = train_under_torchrun(
        "--model",
        "dcgan",
        "--data",
        "digits",
        "--batch-size",
        "32",
        *steps,
        "--logdir",
        str(tmp_path),
        "--run-name",
        "ddp",
    )
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    a, b = load_file(tmp_path / "single/model.safetensors"), load_file(tmp_path / "ddp/model.safetensors")
    assert set(a) == set(b)
    for name in a:  # equal up to the order of float sums
        torch.testing.assert_close(a[name], b[name], rtol=1e-4, atol=1e-6)
    moved = load_file(tmp_path / "single/model.safetensors")
    torch.manual_seed(0)
    start = dpzoo.create_model("dcgan", input_shape=DIGITS, batch_norm=False, width=8).state_dict()
    assert any(
        not torch.equal(start[k], moved[k]) for k in start
    )  # the runs trained, so the comparison means something


# -- the zoo entries ---------------------------------------------------------------------------
def zoo_card(name: str):
    import json
    from pathlib import Path

    import dpzoo.zoo

    index = json.loads((Path(dpzoo.zoo.__file__).parent / "index.json").read_text())["entries"]
    if name not in index:
        pytest.skip(f"{name} is not published in this checkout's zoo")
    return dpzoo.model_card(name)


def card_references(card):
    from dpzoo.plugins.gan.references import parse_note

    (note,) = [n for n in card.notes if "references on the" in n]
    return parse_note(note)


def sample_scores(model, real: torch.Tensor, seeds) -> dict[str, list[float]]:
    """Both scores of ``model.sample(len(real), seed)`` against ``real``, for each seed."""
    out = {"frechet_distance": [], "inception_score": []}
    for seed in seeds:
        fake = model.sample(len(real), seed=seed)
        frechet, score = FrechetDistance(), InceptionScore()
        for metric in (frechet, score):
            metric.reset()
            for f, r in zip(fake.split(1000), real.split(1000)):
                metric.update(f, {"x": r})
        out["frechet_distance"].append(frechet.compute())
        out["inception_score"].append(score.compute())
    return out


def check_entry(name: str, real: torch.Tensor, seeds) -> tuple:
    """The entry loads by name; its samples score as the card says, within the spread over noise draws."""
    card = zoo_card(name)
    model = dpzoo.create_model(name, pretrained=True)
    assert isinstance(model, DCGAN)
    measured = sample_scores(model, real, seeds)
    for metric, values in measured.items():
        recorded = card.metric(f"test/{metric}").value
        spread = torch.tensor(values, dtype=torch.float64)
        # the card's value is one more draw of the same noise: within 4 standard deviations of the draws' mean
        assert abs(recorded - spread.mean().item()) <= 4 * spread.std().item(), (metric, recorded, values)
    return card, card_references(card)


def test_the_digits_entry_samples_score_as_its_card_says():
    card, references = check_entry("dcgan.digits", digits_test_images(), seeds=range(6))
    frechet = card.metric("test/frechet_distance").value
    assert frechet <= 0.1 * references["untrained"]["frechet_distance"]
    assert frechet <= 5 * references["real"]["frechet_distance"]


def test_the_digits_cards_reference_points_are_measured_again_by_the_plugin_command(capsys):
    """``dpzoo gan-references digits`` prints the note the card carries, value for value."""
    from dpzoo.cli import main
    from dpzoo.plugins.gan.references import parse_note

    card = zoo_card("dcgan.digits")
    assert card.config["width"] == 32 and card.seed == 0  # the command's defaults: the card's generator and seed
    assert main(["gan-references", "digits"]) == 0
    measured = parse_note(capsys.readouterr().out.strip().splitlines()[-1])
    for kind, values in card_references(card).items():
        for metric, value in values.items():
            assert measured[kind][metric] == pytest.approx(value, rel=1e-5, abs=1e-5), (kind, metric)


@pytest.mark.slow
def test_the_mnist_entry_loads_by_name_and_its_samples_score_as_its_card_says(mnist_dir, monkeypatch):
    """The card's scores hold for fresh samples, and they meet issue 13's bars against the card's reference points."""
    from dpzoo.tables import to_arrays

    zoo_card("dcgan.mnist")
    mnist = dpzoo.create("dataset", "mnist")
    real = mnist.transform({"x": torch.from_numpy(to_arrays(mnist.load()["test"], ["x"])["x"])})["x"]
    card, references = check_entry("dcgan.mnist", real, seeds=range(3))
    frechet = card.metric("test/frechet_distance").value
    assert frechet <= 0.1 * references["untrained"]["frechet_distance"]
    assert frechet <= 5 * references["real"]["frechet_distance"]
    assert card.metric("test/inception_score").value >= 9.0


def test_autocast_and_clipping_apply_to_each_optimiser_of_the_step(tmp_path):
    """bf16 forwards inside training_step; each group's step is clipped on its own: |delta theta| = lr * clip."""
    clip = 1e-3
    model = build(width=4)
    start = {
        part: torch.cat([p.detach().flatten().clone() for p in getattr(model, part).parameters()])
        for part in ("generator", "discriminator")
    }
    dtypes = []
    model.discriminator.net[0].register_forward_hook(lambda module, inputs, output: dtypes.append(output.dtype))
    from dpzoo.trainer import TrainConfig, Trainer

    trainer = Trainer(
        TrainConfig(
            max_steps=1, batch_size=64, precision="bf16", grad_clip=clip, validate_every=0, test=False, progress=False
        )
    )
    optimisers = {name: torch.optim.SGD(params, lr=1.0) for name, params in model.parameter_groups().items()}
    trainer.fit(model, digits_splits(), optimisers=optimisers)
    assert dtypes and set(dtypes) == {torch.bfloat16}
    for part, before in start.items():
        after = torch.cat([p.detach().flatten() for p in getattr(model, part).parameters()])
        assert (after - before).norm().item() == pytest.approx(clip, rel=1e-3), part  # raw gradients are far larger
