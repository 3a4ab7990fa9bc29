"""The chapter 6 optimisers and schedules: each step matches the update equation worked by hand."""

from __future__ import annotations

import math

import pytest
import torch

import dpzoo

OPTIMISERS = ["sgd", "momentum", "adagrad", "rmsprop", "adam", "adamw"]
SCHEDULERS = ["step", "cosine", "cyclic", "reduce_on_plateau"]

THETA_0 = [1.0, -2.0, 0.5]
GRADIENTS = [[0.5, -1.0, 2.0], [-0.3, 0.8, 1.0]]  # g_1, g_2


def steps(name: str, **options) -> list[torch.Tensor]:
    """theta_1 and theta_2 after two optimiser steps with the gradients above."""
    theta = torch.nn.Parameter(torch.tensor(THETA_0, dtype=torch.float64))
    optimiser = dpzoo.create_optimiser(name, [theta], **options)
    out = []
    for g in GRADIENTS:
        theta.grad = torch.tensor(g, dtype=torch.float64)
        optimiser.step()
        out.append(theta.detach().clone())
    return out


def by_hand(update) -> list[torch.Tensor]:
    """Apply ``update(t, theta, g, state)`` element-wise for t = 1, 2."""
    theta, state, out = torch.tensor(THETA_0, dtype=torch.float64), {}, []
    for t, g in enumerate(GRADIENTS, start=1):
        theta = update(t, theta, torch.tensor(g, dtype=torch.float64), state)
        out.append(theta)
    return out


def assert_same(got, expected):
    for a, b in zip(got, expected):
        assert torch.allclose(a, b, rtol=1e-12, atol=1e-12), (a, b)


# -- registry and configs -----------------------------------------------------


@pytest.mark.parametrize("name", OPTIMISERS)
def test_optimisers_are_found_by_name(name):
    optimiser = dpzoo.create_optimiser(name, [torch.nn.Parameter(torch.ones(2))], lr=0.01)
    assert isinstance(optimiser, torch.optim.Optimizer)
    assert optimiser.param_groups[0]["lr"] == 0.01


@pytest.mark.parametrize("kind, name", [("optimiser", n) for n in OPTIMISERS] + [("scheduler", n) for n in SCHEDULERS])
def test_every_option_is_documented(kind, name):
    for field, info in dpzoo.config_class(kind, name).model_fields.items():
        assert info.description, f"{kind} {name}: option {field!r} has no description"


def test_a_misspelt_option_is_an_error_that_names_it():
    with pytest.raises(dpzoo.ConfigError, match="lrr") as caught:
        dpzoo.create_optimiser("adam", [torch.nn.Parameter(torch.ones(2))], lrr=0.01)
    assert "'lr'" in str(caught.value)  # the suggestion
    optimiser = torch.optim.SGD([torch.nn.Parameter(torch.ones(2))], lr=0.1)
    with pytest.raises(dpzoo.ConfigError, match="warmup"):
        dpzoo.create_scheduler("cosine", optimiser, 10, warmup=2)


def test_out_of_range_values_are_refused():
    with pytest.raises(dpzoo.ConfigError, match="betas"):
        dpzoo.create_optimiser("adam", [torch.nn.Parameter(torch.ones(2))], betas=[0.9, 1.5])


def test_defaults_leave_torch_to_pick_its_kernels():
    optimiser = dpzoo.create_optimiser("adam", [torch.nn.Parameter(torch.ones(2))])
    group = optimiser.param_groups[0]
    assert group["lr"] == 1e-3 and group["foreach"] is None and group["fused"] is None


# -- one step of each matches the book's update -----------------------------------


def test_sgd_steps_against_the_gradient():
    eta, lam = 0.1, 0.01

    def update(t, theta, g, state):
        return theta - eta * (g + lam * theta)

    assert_same(steps("sgd", lr=eta, weight_decay=lam), by_hand(update))


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum_follows_a_leaky_average_of_gradients(nesterov):
    eta, beta = 0.05, 0.9

    def update(t, theta, g, state):
        v = g if t == 1 else beta * state["v"] + g  # v_t = beta v_{t-1} + g_t, v_1 = g_1
        state["v"] = v
        return theta - eta * (g + beta * v if nesterov else v)

    assert_same(steps("momentum", lr=eta, momentum=beta, nesterov=nesterov), by_hand(update))


def test_adagrad_divides_by_the_root_of_summed_squared_gradients():
    eta, eps = 0.1, 1e-10

    def update(t, theta, g, state):
        state["G"] = state.get("G", 0) + g**2
        return theta - eta * g / (state["G"].sqrt() + eps)

    assert_same(steps("adagrad", lr=eta), by_hand(update))


def test_rmsprop_divides_by_the_root_of_a_leaky_average_of_squared_gradients():
    eta, alpha, eps = 0.01, 0.9, 1e-8

    def update(t, theta, g, state):
        state["s"] = alpha * state.get("s", 0) + (1 - alpha) * g**2
        return theta - eta * g / (state["s"].sqrt() + eps)

    assert_same(steps("rmsprop", lr=eta, alpha=alpha), by_hand(update))


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_adam_uses_bias_corrected_moments(name):
    eta, beta_1, beta_2, eps, lam = 0.01, 0.8, 0.95, 1e-8, 0.1

    def update(t, theta, g, state):
        if name == "adam":
            g = g + lam * theta  # L2 penalty in the gradient
        else:
            theta = theta * (1 - eta * lam)  # decoupled decay
        state["m"] = beta_1 * state.get("m", 0) + (1 - beta_1) * g
        state["v"] = beta_2 * state.get("v", 0) + (1 - beta_2) * g**2
        m_hat = state["m"] / (1 - beta_1**t)
        v_hat = state["v"] / (1 - beta_2**t)
        return theta - eta * m_hat / (v_hat.sqrt() + eps)

    got = steps(name, lr=eta, betas=[beta_1, beta_2], weight_decay=lam)
    assert_same(got, by_hand(update))


def test_adams_first_step_moves_each_weight_by_about_eta():
    theta_1 = steps("adam", lr=0.01)[0]  # m_hat / sqrt(v_hat) = sign(g_1) at t = 1
    delta = torch.tensor(THETA_0, dtype=torch.float64) - theta_1
    assert torch.allclose(delta, 0.01 * torch.tensor(GRADIENTS[0]).sign().double(), atol=1e-9)


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return torch.tensor(X[:600], dtype=torch.float32) / 16, torch.tensor(y[:600])


@pytest.fixture
def one_thread():
    """Tiny matrices: threads only add overhead on a shared CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("name", OPTIMISERS)
def test_defaults_train_a_small_network_on_digits(name, digits, one_thread):
    X, y = digits
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))
    optimiser = dpzoo.create_optimiser(name, net.parameters())
    for _epoch in range(5):
        for idx in torch.randperm(600).split(32):
            loss = torch.nn.functional.cross_entropy(net(X[idx]), y[idx])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    with torch.no_grad():
        accuracy = (net(X).argmax(-1) == y).float().mean().item()
    assert accuracy > 0.7, f"{name} with its defaults reached only {accuracy:.2f} after 5 epochs"


# -- schedules --------------------------------------------------------------------


def lr_sequence(name: str, total_steps: int, n: int | None = None, lr: float = 1.0, optimiser="sgd", **options):
    """The learning rate used by each of the first n optimiser steps."""
    theta = torch.nn.Parameter(torch.zeros(1))
    opt = dpzoo.create_optimiser(optimiser, [theta], lr=lr)
    scheduler = dpzoo.create_scheduler(name, opt, total_steps, **options)
    assert isinstance(scheduler, torch.optim.lr_scheduler.LRScheduler)
    lrs = []
    for _ in range(n or total_steps):
        lrs.append(opt.param_groups[0]["lr"])
        theta.grad = torch.zeros(1)
        opt.step()
        scheduler.step()
    return lrs


def test_step_multiplies_by_gamma_every_step_size_steps():
    assert lr_sequence("step", 7, step_size=2, gamma=0.5) == pytest.approx([1, 1, 0.5, 0.5, 0.25, 0.25, 0.125])


def test_step_decays_after_each_third_of_the_run_by_default():
    assert lr_sequence("step", 9) == pytest.approx([1, 1, 1, 0.1, 0.1, 0.1, 0.01, 0.01, 0.01])


def test_cosine_decays_from_eta_to_eta_min():
    T = 4
    expected = [0.5 * (1 + math.cos(math.pi * s / T)) for s in range(T + 2)]
    expected[-1] = 0.0  # past the end it stays at eta_min
    assert lr_sequence("cosine", T, n=T + 2) == pytest.approx(expected)
    floor = lr_sequence("cosine", T, n=T + 1, min_lr=0.2)
    assert floor[0] == pytest.approx(1.0) and floor[-1] == pytest.approx(0.2)
    assert floor[2] == pytest.approx(0.2 + 0.8 * 0.5)


def test_cosine_warms_up_linearly_then_peaks_at_eta():
    lrs = lr_sequence("cosine", 6, warmup_steps=2)
    cos = [0.5 * (1 + math.cos(math.pi * k / 4)) for k in range(4)]
    assert lrs == pytest.approx([1 / 3, 2 / 3, *cos])


def test_cosine_refuses_a_warmup_as_long_as_the_run():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.1)
    with pytest.raises(dpzoo.ConfigError, match="warmup_steps"):
        dpzoo.create_scheduler("cosine", opt, 5, warmup_steps=5)


def test_cosine_resumes_exactly_from_its_state_dict():
    theta = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([theta], lr=1.0)
    first = dpzoo.create_scheduler("cosine", opt, 10, warmup_steps=3)
    for _ in range(5):
        opt.step()
        first.step()
    opt2 = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    opt2.load_state_dict(opt.state_dict())
    second = dpzoo.create_scheduler("cosine", opt2, 10, warmup_steps=3)
    second.load_state_dict(first.state_dict())
    for _ in range(3):
        opt.step(), first.step(), opt2.step(), second.step()
        assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]


def test_cyclic_is_a_triangle_wave():
    lrs = lr_sequence("cyclic", 8, base_lr=0.1, max_lr=1.0, step_size_up=2)
    assert lrs == pytest.approx([0.1, 0.55, 1.0, 0.55, 0.1, 0.55, 1.0, 0.55])


def test_cyclic_defaults_to_two_cycles_below_the_optimisers_lr_and_works_with_adam():
    lrs = lr_sequence("cyclic", 8, lr=0.01, optimiser="adam")
    assert lrs == pytest.approx([0.001, 0.0055, 0.01, 0.0055, 0.001, 0.0055, 0.01, 0.0055])


def test_reduce_on_plateau_names_what_it_watches_and_drops_after_patience():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=1.0)
    scheduler = dpzoo.create_scheduler("reduce_on_plateau", opt, 100)
    assert scheduler.monitor == "validation/loss"
    scheduler = dpzoo.create_scheduler(
        "reduce_on_plateau", opt, 100, monitor="validation/accuracy", mode="max", patience=1
    )
    assert scheduler.monitor == "validation/accuracy"
    lrs = []
    for accuracy in [0.5, 0.6, 0.6, 0.6, 0.7, 0.7, 0.7]:
        scheduler.step(accuracy)
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs == pytest.approx([1, 1, 1, 0.1, 0.1, 0.1, 0.01])
