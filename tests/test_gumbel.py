"""Chapter 9's estimators for discrete samples, checked against the book's statements.

Gumbel-max draws exact categorical samples; Gumbel-softmax relaxes them with a
temperature (one-hot as tau -> 0, uniform as tau grows); the straight-through
form is exactly one-hot forwards with the relaxed gradient backwards; REINFORCE
(eq. 9.4) is unbiased, noisier than Gumbel-softmax, and a baseline lowers its
variance without bias. Every random check uses a fixed seed and states its
sample size and its bound.
"""

from __future__ import annotations

import math

import pytest
import torch
from scipy import stats

import dpzoo
from dpzoo.plugins.gumbel.gumbel_softmax import gumbel_softmax
from dpzoo.plugins.gumbel.noise import gumbel_max, gumbel_noise, sample_one_hot
from dpzoo.plugins.gumbel.reinforce import MovingAverageBaseline, categorical_log_prob, reinforce

ESTIMATORS = ["gumbel_softmax", "st_gumbel", "reinforce"]
X = [1.1, 4.0, -0.1, 2.3]  # the book's worked example; softmax(X) = [0.044, 0.797, 0.013, 0.146]
F_OF_CLASS = [3.0, -1.0, 5.0, 2.0]  # a loss L(y) for each class y of the small enumerable problem


def generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def estimator(name: str, **options):
    return dpzoo.create("relaxation", name, **options)


# -- registry and configs -----------------------------------------------------------------


@pytest.mark.parametrize("name", ESTIMATORS)
def test_estimators_are_relaxations_found_by_name(name):
    r = estimator(name)
    assert isinstance(r, dpzoo.Relaxation)
    assert dpzoo.get("relaxation", name).plugin == "gumbel"
    for field, info in dpzoo.config_class("relaxation", name).model_fields.items():
        assert info.description, f"relaxation {name}: option {field!r} has no description"


# -- Gumbel-max -------------------------------------------------------------------------------


def test_gumbel_noise_has_the_moments_of_gumbel_0_1():
    g = gumbel_noise(torch.zeros(200_000, dtype=torch.float64), generator(1))
    # Gumbel(0, 1): mean = Euler's gamma 0.5772, variance = pi^2 / 6; standard errors ~0.003 and ~0.01
    assert g.mean().item() == pytest.approx(0.5772156649, abs=0.015)
    assert g.var().item() == pytest.approx(math.pi**2 / 6, abs=0.05)
    assert torch.isfinite(g).all()


def chi_squared(counts: torch.Tensor, p: torch.Tensor) -> float:
    expected = counts.sum() * p
    return float(((counts - expected) ** 2 / expected).sum())


DRAWS = 100_000
CRITICAL = stats.chi2.ppf(0.999, df=len(X) - 1)  # 16.27 for 3 degrees of freedom


def test_gumbel_max_frequencies_match_softmax():
    """100,000 draws at seed 0; a chi-squared test at the 0.1% level (3 degrees of freedom)."""
    x = torch.tensor(X, dtype=torch.float64)
    t = gumbel_max(x.expand(DRAWS, -1), generator(0))
    counts = torch.bincount(t, minlength=len(X)).double()
    p = torch.softmax(x, -1)
    assert chi_squared(counts, p) < CRITICAL
    assert (counts / DRAWS - p).abs().max() < 0.01  # total variation is small too


def test_the_chi_squared_test_catches_a_sampler_with_the_wrong_noise():
    """Gaussian noise in place of Gumbel noise gives other frequencies; the same test rejects them."""
    x = torch.tensor(X, dtype=torch.float64)
    t = (x + torch.randn(DRAWS, len(X), generator=generator(0), dtype=torch.float64)).argmax(-1)
    counts = torch.bincount(t, minlength=len(X)).double()
    assert chi_squared(counts, torch.softmax(x, -1)) > 10 * CRITICAL


@pytest.mark.parametrize("name", ESTIMATORS)
def test_hard_is_an_exact_gumbel_max_sample(name):
    x = torch.tensor(X).expand(50, -1)
    z = estimator(name).hard(x, generator(3))
    assert torch.equal(z, torch.nn.functional.one_hot(gumbel_max(x, generator(3)), len(X)).float())


def test_the_noise_comes_from_the_generator_or_from_torchs_seeded_default():
    x = torch.randn(8, 5)
    r = estimator("gumbel_softmax")
    assert torch.equal(r.soft(x, 0.5, generator(7)), r.soft(x, 0.5, generator(7)))
    assert not torch.equal(r.soft(x, 0.5, generator(7)), r.soft(x, 0.5, generator(8)))
    assert torch.equal(r(x, 0.5, generator(7)), r.sample(x, 0.5, generator(7)))  # an estimator module's forward samples
    torch.manual_seed(11)  # what the trainer does; its checkpoints save this generator's state
    first = r.soft(x, 0.5)
    torch.manual_seed(11)
    assert torch.equal(r.soft(x, 0.5), first)


# -- Gumbel-softmax ---------------------------------------------------------------------------


def test_gumbel_softmax_tends_to_the_one_hot_sample_as_tau_falls():
    x = 2 * torch.randn(64, 6, generator=generator(0), dtype=torch.float64)
    sample = sample_one_hot(x, generator(5))  # the same noise as each relaxed draw below
    distances = [
        (gumbel_softmax(x, tau, generator(5)) - sample).abs().max().item() for tau in [3.0, 1.0, 0.3, 0.1, 0.01, 1e-4]
    ]
    assert all(a > b for a, b in zip(distances, distances[1:])), distances
    assert distances[-1] < 1e-6, distances
    assert distances[0] > 0.5  # far from one-hot at a high temperature


def test_gumbel_softmax_tends_to_uniform_as_tau_grows():
    x = 2 * torch.randn(64, 6, generator=generator(0), dtype=torch.float64)
    distances = [
        (gumbel_softmax(x, tau, generator(5)) - 1 / 6).abs().max().item() for tau in [0.3, 1.0, 10.0, 100.0, 1e4]
    ]
    assert all(a > b for a, b in zip(distances, distances[1:])), distances
    assert distances[-1] < 1e-3, distances


def test_gumbel_softmax_samples_lie_on_the_simplex():
    y = estimator("gumbel_softmax").soft(torch.randn(32, 7), 0.5, generator(0))
    assert (y > 0).all()
    assert torch.allclose(y.sum(-1), torch.ones(32))


# -- straight-through Gumbel-softmax ---------------------------------------------------------


@pytest.mark.parametrize("tau", [1.0, 0.3])
def test_straight_through_is_exactly_one_hot_forwards_and_soft_backwards(tau):
    x = 2 * torch.randn(16, 3, 5, generator=generator(0), dtype=torch.float64)
    weights = torch.randn(16, 3, 5, generator=generator(1), dtype=torch.float64)  # a loss touching every output
    r = estimator("st_gumbel")

    x_st = x.clone().requires_grad_()
    z = r.soft(x_st, tau, generator(4))  # what a model calls while training
    assert torch.equal(z, sample_one_hot(x, generator(4)))  # exactly, not to a tolerance
    assert set(z.unique().tolist()) == {0.0, 1.0}
    (weights * z).sum().backward()

    x_soft = x.clone().requires_grad_()
    (weights * gumbel_softmax(x_soft, tau, generator(4))).sum().backward()  # the same noise g
    assert torch.equal(x_st.grad, x_soft.grad)
    assert x_st.grad.abs().sum() > 0
    assert torch.equal(r.straight_through(x, tau, generator(4)), z.detach())


# -- REINFORCE ------------------------------------------------------------------------------


def exact_gradient() -> torch.Tensor:
    """d/dx E_{y ~ Cat(softmax x)} L(y) = d/dx sum_y L(y) softmax(x)_y (eqs. 9.1-9.2), by enumeration."""
    x = torch.tensor(X, dtype=torch.float64, requires_grad=True)
    (torch.softmax(x, -1) @ torch.tensor(F_OF_CLASS, dtype=torch.float64)).backward()
    return x.grad


def reinforce_gradients(m: int, seed: int, baseline: float | torch.Tensor = 0.0, offset: float = 0.0) -> torch.Tensor:
    """m single-draw REINFORCE estimates of the gradient of E[L + offset], one per row, from the surrogate's autograd."""
    x = torch.tensor(X, dtype=torch.float64).repeat(m, 1).requires_grad_()  # one copy of x per draw
    z = estimator("reinforce").sample(x, generator=generator(seed))
    f = z @ torch.tensor(F_OF_CLASS, dtype=torch.float64) + offset
    reinforce(f, categorical_log_prob(x, z), baseline).sum().backward()
    return x.grad


def gumbel_softmax_gradients(m: int, seed: int, tau: float) -> torch.Tensor:
    """m single-draw Gumbel-softmax estimates of the same gradient, with L extended linearly to the simplex."""
    x = torch.tensor(X, dtype=torch.float64).repeat(m, 1).requires_grad_()
    (gumbel_softmax(x, tau, generator(seed)) @ torch.tensor(F_OF_CLASS, dtype=torch.float64)).sum().backward()
    return x.grad


def total_variance(g: torch.Tensor) -> float:
    return g.var(dim=0).sum().item()


M = 40_000


def test_reinforce_is_unbiased():
    """The mean of 40,000 estimates (seed 0) is within 4 standard errors of the enumerated gradient, per class."""
    g = reinforce_gradients(M, seed=0)
    standard_error = g.std(dim=0) / math.sqrt(M)
    assert ((g.mean(dim=0) - exact_gradient()).abs() < 4 * standard_error).all()
    assert exact_gradient().abs().min() > 4 * standard_error.max()  # the check can tell the gradient from zero


def test_the_surrogate_has_the_loss_as_its_value():
    x = torch.randn(10, 4, requires_grad=True)
    z = sample_one_hot(x, generator(0))
    f = torch.randn(10)
    assert torch.equal(reinforce(f, categorical_log_prob(x, z), 2.5), f)


@pytest.mark.parametrize("tau", [1.0, 0.5])
def test_reinforce_is_noisier_than_gumbel_softmax_on_the_same_problem(tau):
    """At the temperatures the Gumbel-softmax paper anneals between (1 to 0.5), 40,000 draws each.

    (As tau -> 0 the relaxed gradient, which scales as 1/tau, grows noisy too:
    at tau = 0.1 it is the noisier one on this problem; hence a floor on tau.)
    """
    v_reinforce = total_variance(reinforce_gradients(M, seed=0))
    v_gumbel = total_variance(gumbel_softmax_gradients(M, seed=0, tau=tau))
    assert v_reinforce > 1.5 * v_gumbel, (v_reinforce, v_gumbel)


OFFSET = 100.0  # losses far from zero, as a VAE's reconstruction term is (about 100 nats on MNIST)


def test_a_moving_average_baseline_lowers_the_variance_without_bias():
    """20 batches of 2,000 draws of L + 100: b, updated after each batch, tends to E[L + 100].

    The same samples with b = 0 give the contrast. The offset changes neither
    the gradient nor the spread of L; without a baseline it multiplies the score.
    """
    baseline = MovingAverageBaseline(decay=0.5).double()
    with_b, without_b = [], []
    for step in range(20):
        b = baseline.value.clone()  # fixed before the batch it multiplies: unbiased
        with_b.append(reinforce_gradients(2000, seed=step, baseline=b, offset=OFFSET))
        without_b.append(reinforce_gradients(2000, seed=step, offset=OFFSET))
        z = sample_one_hot(torch.tensor(X, dtype=torch.float64).repeat(2000, 1), generator(step))
        baseline.update(z @ torch.tensor(F_OF_CLASS, dtype=torch.float64) + OFFSET)
    f = torch.tensor(F_OF_CLASS, dtype=torch.float64) + OFFSET
    expected_loss = torch.softmax(torch.tensor(X, dtype=torch.float64), -1) @ f
    assert baseline.value.item() == pytest.approx(expected_loss.item(), abs=0.05)
    g, g0 = torch.cat(with_b[1:]), torch.cat(without_b[1:])  # from the second batch on, b is an average of losses
    standard_error = g.std(dim=0) / math.sqrt(len(g))
    assert ((g.mean(dim=0) - exact_gradient()).abs() < 4 * standard_error).all()
    assert total_variance(g) < 0.01 * total_variance(g0), (total_variance(g), total_variance(g0))
    # and no worse than REINFORCE on the centred loss, whose mean is near 0 already
    assert total_variance(g) < 1.5 * total_variance(reinforce_gradients(M, seed=0))


def test_the_reinforce_estimator_updates_its_baseline_after_using_it():
    r = estimator("reinforce", decay=0.9)
    x = torch.randn(6, 4, requires_grad=True)
    z = r.sample(x, generator=generator(0))
    f = torch.arange(6.0)
    surrogate = r.surrogate(f, categorical_log_prob(x, z))
    surrogate.sum().backward()
    assert r.baseline.value.item() == pytest.approx(2.5)  # the first update starts at the batch mean
    expected = ((f - 0.0)[:, None] * (z - torch.softmax(x.detach(), -1))).detach()  # b was still 0 for this batch
    assert torch.allclose(x.grad, expected, atol=1e-6)
    r.surrogate(torch.full((6,), 10.0), categorical_log_prob(x, z))
    assert r.baseline.value.item() == pytest.approx(0.9 * 2.5 + 0.1 * 10.0)
    assert set(r.state_dict()) == {"baseline.value", "baseline.updates"}
    assert estimator("reinforce", baseline=False).baseline is None


def test_reinforce_samples_carry_no_pathwise_gradient():
    x = torch.randn(5, 4, requires_grad=True)
    z = estimator("reinforce").sample(x, generator=generator(0))
    assert not z.requires_grad
    assert torch.equal(z.sum(-1), torch.ones(5))


# -- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ESTIMATORS)
@pytest.mark.parametrize("tau", [0.0, -1.0, float("inf")])
def test_a_temperature_that_is_not_positive_is_an_error(name, tau):
    with pytest.raises(ValueError, match="tau must be a positive finite number"):
        estimator(name).soft(torch.randn(3, 4), tau)
    with pytest.raises(ValueError, match="tau must be a positive finite number"):
        estimator(name).sample(torch.randn(3, 4), torch.tensor(tau))


@pytest.mark.parametrize("name", ESTIMATORS)
def test_a_configured_temperature_that_is_not_positive_is_an_error_naming_tau(name):
    with pytest.raises(dpzoo.ConfigError, match="tau"):
        estimator(name, tau=0.0)


@pytest.mark.parametrize("name", ESTIMATORS)
@pytest.mark.parametrize("shape", [(5, 1), ()])
def test_fewer_than_two_categories_is_an_error(name, shape):
    with pytest.raises(ValueError, match="K >= 2"):
        estimator(name).sample(torch.zeros(shape))
    with pytest.raises(ValueError, match="K >= 2"):
        gumbel_max(torch.zeros(shape))
