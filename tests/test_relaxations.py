"""The chapter 9 relaxations, checked against the book's worked values and properties."""

from __future__ import annotations

import pytest
import torch

import dpzoo

RELAXATIONS = ["softmax", "soft_argmax", "soft_max", "softplus", "huber", "straight_through_argmax"]

# reference/book-values.md, x = [1.1, 4.0, -0.1, 2.3]
X = [1.1, 4.0, -0.1, 2.3]
BOOK = {  # T: (softmax(x/T), softmax(x/T) . [0,1,2,3], softmax(x/T) . x)
    1.0: ([0.044, 0.797, 0.013, 0.146], 1.2606, 3.571),
    0.8: ([0.023, 0.868, 0.005, 0.104], 1.1894, 3.736),
    0.6: ([0.007, 0.936, 0.001, 0.055], 1.1037, 3.881),
    0.4: ([0.001, 0.985, 0.000, 0.014], 1.0274, 3.974),
    0.2: ([0.000, 1.000, 0.000, 0.000], 1.0004, 3.9996),
}
TOLERANCE = 1e-3


def relaxation(name: str, **options):
    return dpzoo.create("relaxation", name, **options)


@pytest.fixture
def x():
    return torch.tensor(X)


@pytest.fixture
def batch():
    torch.manual_seed(0)
    return 3 * torch.randn(5, 3, 7, dtype=torch.float64)


# -- registry and configs -----------------------------------------------------


@pytest.mark.parametrize("name", RELAXATIONS)
def test_relaxations_are_found_by_name(name):
    r = relaxation(name)
    assert isinstance(r, dpzoo.Relaxation)
    assert dpzoo.get("relaxation", name).plugin == "relaxations"
    for field, info in dpzoo.config_class("relaxation", name).model_fields.items():
        assert info.description, f"relaxation {name}: option {field!r} has no description"


def test_a_misspelt_option_is_an_error_that_names_it():
    with pytest.raises(dpzoo.ConfigError, match="taus") as caught:
        relaxation("softmax", taus=0.5)
    assert "'tau'" in str(caught.value)  # the suggestion
    with pytest.raises(dpzoo.ConfigError, match="tau"):
        relaxation("softmax", tau=0.0)


def test_the_configured_temperature_is_the_default(x):
    r = relaxation("softmax", tau=0.5)
    assert torch.equal(r.soft(x), torch.softmax(x / 0.5, -1))
    assert torch.equal(r.soft(x, 2.0), torch.softmax(x / 2.0, -1))


def test_a_tensor_temperature_works_for_annealing(x):
    for name in RELAXATIONS:
        r = relaxation(name)
        assert torch.allclose(r.soft(x, torch.tensor(0.6)), r.soft(x, 0.6))


# -- the book's worked example ---------------------------------------------------


def test_hard_forms_of_the_worked_example(x):
    assert relaxation("softmax").hard(x).tolist() == [0, 1, 0, 0]
    assert relaxation("soft_argmax").hard(x).item() == 1.0
    assert relaxation("soft_max").hard(x).item() == 4.0


@pytest.mark.parametrize("T", list(BOOK))
def test_softmax_with_temperature_matches_the_book(x, T):
    expected, _, _ = BOOK[T]
    assert torch.allclose(relaxation("softmax").soft(x, T), torch.tensor(expected), atol=TOLERANCE)


@pytest.mark.parametrize("T", list(BOOK))
def test_soft_argmax_matches_the_book(x, T):
    _, expected, _ = BOOK[T]
    assert relaxation("soft_argmax").soft(x, T).item() == pytest.approx(expected, abs=TOLERANCE)


@pytest.mark.parametrize("T", list(BOOK))
def test_soft_max_matches_the_book(x, T):
    _, _, expected = BOOK[T]
    assert relaxation("soft_max").soft(x, T).item() == pytest.approx(expected, abs=TOLERANCE)


# -- properties the chapter states ---------------------------------------------------


@pytest.mark.parametrize("name", ["softmax", "soft_argmax", "soft_max", "softplus", "huber"])
def test_soft_tends_to_hard_as_the_temperature_falls(name, batch):
    r = relaxation(name)
    hard = r.hard(batch)
    errors = [(r.soft(batch, tau) - hard).abs().max().item() for tau in [1.0, 0.3, 0.1, 0.01, 1e-4]]
    assert all(a >= b for a, b in zip(errors, errors[1:])), errors
    assert errors[-1] < 1e-3, errors


@pytest.mark.parametrize("name", ["softmax", "soft_argmax", "soft_max"])
def test_relaxations_of_argmax_and_max_work_along_the_last_dimension(name, batch):
    r = relaxation(name)
    one_by_one = torch.stack([r.soft(row, 0.5) for row in batch.reshape(-1, 7)])
    assert torch.allclose(r.soft(batch, 0.5).reshape(one_by_one.shape), one_by_one)
    assert r.hard(batch).shape == r.soft(batch, 0.5).shape


@pytest.mark.parametrize("name", RELAXATIONS)
@pytest.mark.parametrize("tau", [1.0, 0.3])
def test_straight_through_is_hard_forwards_and_soft_backwards(name, tau, batch):
    r = relaxation(name)
    weights = torch.randn_like(r.hard(batch))  # a loss that depends on every output

    x_st = batch.clone().requires_grad_()
    st = r.straight_through(x_st, tau)
    assert torch.equal(st, r.hard(batch))  # exactly, not to a tolerance
    (weights * st).sum().backward()

    x_soft = batch.clone().requires_grad_()
    soft = torch.softmax(x_soft / tau, -1) if name == "straight_through_argmax" else r.soft(x_soft, tau)
    (weights * soft).sum().backward()
    assert torch.allclose(x_st.grad, x_soft.grad)
    assert x_st.grad.abs().sum() > 0


def test_straight_through_argmax_is_discrete_in_training_too(x):
    r = relaxation("straight_through_argmax")
    x = x.clone().requires_grad_()
    y = r.soft(x, 0.5)  # what a model calls while training
    assert y.tolist() == [0, 1, 0, 0]
    y[3].backward()  # the gradient of softmax(x / tau)_3
    p = torch.softmax(x.detach() / 0.5, -1)
    expected = -p[3] * p / 0.5
    expected[3] += p[3] / 0.5
    assert torch.allclose(x.grad, expected)


def test_softplus_relaxes_relu_and_its_derivative_is_the_sigmoid():
    x = torch.linspace(-6, 6, 49, dtype=torch.float64, requires_grad=True)
    r = relaxation("softplus")
    assert torch.allclose(r.soft(x, 1.0), torch.log1p(torch.exp(x)))
    r.soft(x, 1.0).sum().backward()
    assert torch.allclose(x.grad, torch.sigmoid(x))
    x.grad = None
    r.soft(x, 0.5).sum().backward()
    assert torch.allclose(x.grad, torch.sigmoid(x / 0.5))
    assert torch.equal(r.hard(x), torch.relu(x))
    assert (r.soft(x, 1.0) > r.hard(x)).all()  # above ReLU everywhere, by at most tau log 2
    assert (r.soft(x, 1.0) - r.hard(x)).max().item() == pytest.approx(torch.log(torch.tensor(2.0)).item())


def test_huber_at_threshold_one_is_the_books_smooth_l1():
    d = torch.tensor([-3.0, -1.0, -0.5, 0.0, 0.5, 0.999, 1.0, 2.5])
    expected = torch.tensor([2.5, 0.5, 0.125, 0.0, 0.125, 0.5 * 0.999**2, 0.5, 2.0])
    r = relaxation("huber")
    assert torch.allclose(r.soft(d, 1.0), expected)
    assert torch.allclose(r.soft(d, 1.0), torch.nn.functional.smooth_l1_loss(d, torch.zeros_like(d), reduction="none"))
    assert torch.equal(r.hard(d), d.abs())


def test_huber_gradient_shrinks_smoothly_to_zero_at_the_origin():
    d = torch.tensor([-2.0, -0.5, -0.1, 0.0, 0.1, 0.5, 2.0], requires_grad=True)
    relaxation("huber").soft(d, 1.0).sum().backward()
    assert d.grad.tolist() == pytest.approx([-1.0, -0.5, -0.1, 0.0, 0.1, 0.5, 1.0])
