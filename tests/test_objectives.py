"""The chapter 2 losses and metrics: each matches the book's equation computed by hand."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import dpzoo

LOSSES = ["mse", "huber", "bce_logits", "cross_entropy", "hinge", "kl"]
METRICS = ["accuracy", "error_rate", "nll"]


def loss(name: str, output, batch, **options) -> torch.Tensor:
    out = dpzoo.create("loss", name, **options)(output, batch)
    assert isinstance(out, dpzoo.LossOutput)
    return out.total


@pytest.fixture
def logits():
    torch.manual_seed(0)
    return torch.randn(6, 4, dtype=torch.float64)


@pytest.fixture
def labels():
    return torch.tensor([0, 1, 2, 3, 1, 2])


# -- registry and configs -----------------------------------------------------


@pytest.mark.parametrize("name", LOSSES)
def test_losses_are_found_by_name(name):
    assert isinstance(dpzoo.create("loss", name), dpzoo.Loss)
    assert dpzoo.get("loss", name).plugin == "objectives"


@pytest.mark.parametrize("name", METRICS)
def test_metrics_are_found_by_name(name):
    assert isinstance(dpzoo.create("metric", name), dpzoo.Metric)


@pytest.mark.parametrize("kind, name", [("loss", n) for n in LOSSES] + [("metric", n) for n in METRICS])
def test_every_option_is_documented_and_reads_the_target_key(kind, name):
    config = dpzoo.config_class(kind, name)
    assert config.model_fields["target"].default == "y"
    for field, info in config.model_fields.items():
        assert info.description, f"{kind} {name}: option {field!r} has no description"


def test_a_misspelt_option_is_an_error_that_names_it():
    with pytest.raises(dpzoo.ConfigError, match="label_smothing") as caught:
        dpzoo.create("loss", "cross_entropy", label_smothing=0.1)
    assert "label_smoothing" in str(caught.value)  # the suggestion


def test_a_missing_target_key_says_which_keys_the_batch_has(logits):
    with pytest.raises(dpzoo.ConfigError, match=r"batch\['label'\].*x, y"):
        loss("cross_entropy", logits, {"x": logits, "y": torch.zeros(6)}, target="label")


def test_the_target_key_is_configurable(logits, labels):
    assert torch.equal(
        loss("cross_entropy", logits, {"label": labels}, target="label"),
        loss("cross_entropy", logits, {"y": labels}),
    )


# -- regression ----------------------------------------------------------------


def test_mse_summed_is_the_books_inner_product():
    y_hat, y = torch.tensor([[1.0, -2.0, 0.5]]), torch.tensor([[0.0, 1.0, 0.5]])
    d = (y_hat - y).flatten()
    assert loss("mse", y_hat, {"y": y}, reduction="sum") == pytest.approx(float(d @ d))
    assert loss("mse", y_hat, {"y": y}) == pytest.approx(float(d @ d) / 3)


def test_mse_accepts_flat_targets_for_single_output_models():
    y_hat = torch.tensor([[1.0], [2.0]])
    assert loss("mse", y_hat, {"y": torch.tensor([0, 2])}) == pytest.approx(0.5)


def book_smooth_l1(d: torch.Tensor) -> torch.Tensor:
    return torch.where(d.abs() < 1, 0.5 * d**2, d.abs() - 0.5)


def test_huber_at_delta_one_is_the_books_smooth_l1():
    d = torch.tensor([-3.0, -1.0, -0.4, 0.0, 0.7, 1.0, 2.5])
    expected = book_smooth_l1(d)
    assert torch.allclose(expected, torch.tensor([2.5, 0.5, 0.08, 0.0, 0.245, 0.5, 2.0]))
    total = loss("huber", d, {"y": torch.zeros_like(d)}, reduction="sum")
    assert total == pytest.approx(float(expected.sum()))


def test_huber_delta_moves_the_threshold():
    d = torch.tensor([0.5, 3.0])
    delta = 2.0  # 0.5 d^2 inside, delta (|d| - delta / 2) outside
    expected = 0.5 * 0.5**2 + delta * (3.0 - delta / 2)
    assert loss("huber", d, {"y": torch.zeros(2)}, reduction="sum", delta=delta) == pytest.approx(expected)


# -- classification --------------------------------------------------------------


def test_bce_logits_is_the_bernoulli_nll_and_its_gradient_is_the_error():
    z = torch.tensor([[-2.0, 0.5], [3.0, 0.0]], requires_grad=True)
    y = torch.tensor([[0.0, 1.0], [1.0, 1.0]])
    y_hat = torch.sigmoid(z.detach())
    by_hand = (-y * y_hat.log() - (1 - y) * (1 - y_hat).log()).sum()
    total = loss("bce_logits", z, {"y": y}, reduction="sum")
    assert total.item() == pytest.approx(by_hand.item(), rel=1e-6)
    total.backward()
    assert torch.allclose(z.grad, y_hat - y)  # dl/dz = y_hat - y: the larger the error, the faster it learns


def test_bce_logits_stays_finite_for_a_confident_wrong_prediction():
    total = loss("bce_logits", torch.tensor([-200.0]), {"y": torch.tensor([1])})
    assert total.item() == pytest.approx(200.0)  # log(sigmoid(-200)) underflows; the logits form does not


def test_cross_entropy_is_minus_log_softmax_of_the_target_class(logits, labels):
    by_hand = torch.stack([-(z[c] - torch.logsumexp(z, 0)) for z, c in zip(logits, labels)])
    assert loss("cross_entropy", logits, {"y": labels}).item() == pytest.approx(by_hand.mean().item())
    assert loss("cross_entropy", logits, {"y": labels}, reduction="sum").item() == pytest.approx(by_hand.sum().item())


def test_cross_entropy_gradient_is_softmax_minus_one_hot(logits, labels):
    z = logits.clone().requires_grad_()
    loss("cross_entropy", z, {"y": labels}, reduction="sum").backward()
    assert torch.allclose(z.grad, torch.softmax(logits, -1) - F.one_hot(labels, 4))


def test_label_smoothing_mixes_a_uniform_target_into_the_one_hot(logits, labels):
    epsilon, K = 0.2, logits.shape[1]
    target = (1 - epsilon) * F.one_hot(labels, K) + epsilon / K
    by_hand = -(target * torch.log_softmax(logits, -1)).sum(-1).mean()
    total = loss("cross_entropy", logits, {"y": labels}, label_smoothing=epsilon)
    assert total.item() == pytest.approx(by_hand.item())


def test_cross_entropy_counts_every_position_of_a_sequence(logits, labels):
    z, y = logits.reshape(2, 3, 4), labels.reshape(2, 3)  # (N, T, K) logits, (N, T) targets
    assert torch.allclose(loss("cross_entropy", z, {"y": y}), loss("cross_entropy", logits, {"y": labels}))


def test_hinge_is_the_weston_watkins_margin_loss(logits, labels):
    m, K = 1.0, logits.shape[1]
    per_example = [
        sum(max(0.0, m - z[c].item() + z[k].item()) for k in range(K) if k != c) / K for z, c in zip(logits, labels)
    ]
    assert loss("hinge", logits, {"y": labels}).item() == pytest.approx(sum(per_example) / len(per_example))
    squared = [
        sum(max(0.0, m - z[c].item() + z[k].item()) ** 2 for k in range(K) if k != c) / K
        for z, c in zip(logits, labels)
    ]
    assert loss("hinge", logits, {"y": labels}, p=2, reduction="sum").item() == pytest.approx(sum(squared))


def test_hinge_is_zero_once_the_true_class_clears_the_margin():
    z = torch.tensor([[0.0, 3.0, 1.9]])
    assert loss("hinge", z, {"y": torch.tensor([1])}) == 0
    assert loss("hinge", z, {"y": torch.tensor([1])}, margin=1.2) > 0


def test_kl_matches_its_definition_and_vanishes_at_the_target(logits):
    torch.manual_seed(1)
    p = torch.softmax(torch.randn(6, 4, dtype=torch.float64), -1)
    q = torch.softmax(logits, -1)
    by_hand = (p * (p.log() - q.log())).sum(-1)
    assert loss("kl", logits, {"y": p}).item() == pytest.approx(by_hand.mean().item())
    assert loss("kl", logits, {"y": p}, reduction="sum").item() == pytest.approx(by_hand.sum().item())
    assert loss("kl", logits, {"y": p.log()}, log_target=True).item() == pytest.approx(by_hand.mean().item())
    assert loss("kl", logits, {"y": q}).item() == pytest.approx(0.0, abs=1e-12)


def test_kl_to_a_one_hot_target_is_the_cross_entropy(logits, labels):
    one_hot = F.one_hot(labels, 4).double()
    assert loss("kl", logits, {"y": one_hot}).item() == pytest.approx(
        loss("cross_entropy", logits, {"y": labels}).item()
    )


# -- metrics -------------------------------------------------------------------


def metric(name: str, output, batch, **options) -> torch.Tensor:
    return dpzoo.create("metric", name, **options)(output, batch)


def test_accuracy_and_error_rate_are_per_example_zeros_and_ones():
    z = torch.tensor([[2.0, 1.0, 0.0], [0.0, 1.0, 3.0], [0.0, 5.0, 1.0], [1.0, 0.0, 0.0]])
    y = torch.tensor([0, 1, 1, 2])
    accuracy = metric("accuracy", z, {"y": y})
    assert accuracy.dtype == torch.float32 and accuracy.shape == (4,)
    assert accuracy.tolist() == [1.0, 0.0, 1.0, 0.0]
    assert torch.equal(metric("error_rate", z, {"y": y}), 1 - accuracy)
    assert not dpzoo.create("metric", "error_rate").higher_is_better
    assert dpzoo.create("metric", "accuracy").higher_is_better


def test_accuracy_of_a_single_logit_thresholds_at_zero():
    z = torch.tensor([[2.0], [-1.0], [0.5]])
    assert metric("accuracy", z, {"y": torch.tensor([1, 1, 0])}).tolist() == [1.0, 0.0, 0.0]


def test_nll_is_per_example_and_averages_to_the_cross_entropy(logits, labels):
    nll = metric("nll", logits.float(), {"y": labels})
    assert nll.shape == (6,) and not nll.requires_grad
    by_hand = [-math.log(torch.softmax(z, 0)[c].item()) for z, c in zip(logits, labels)]
    assert nll.tolist() == pytest.approx(by_hand, rel=1e-5)
    assert nll.mean().item() == pytest.approx(loss("cross_entropy", logits, {"y": labels}).item(), rel=1e-5)


def test_metrics_count_each_position_of_a_sequence(logits, labels):
    z, y = logits.reshape(2, 3, 4), labels.reshape(2, 3)
    for name in METRICS:
        assert torch.allclose(metric(name, z, {"y": y}), metric(name, logits, {"y": labels}))
