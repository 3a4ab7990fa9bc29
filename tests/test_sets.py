"""Set prediction (section 1.3.2, chapter 16): encoders, set losses, DSPN, the set data, the zoo entries.

The book's statements tested here: a set encoder is invariant to the order of
its elements (and, with a mask, to padding); a set loss is invariant to the
order within either argument (footnote 38), and the Hungarian loss is the
minimum over all matchings; DSPN finds its output by gradient descent on
||h(X) - g(Y)|| inside the forward pass, so its inner loop lowers that
distance and training reaches the encoders through it.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

import dpzoo
from dpzoo.plugins.sets import matching
from dpzoo.plugins.sets.encoder import EncoderConfig, SetEncoder
from dpzoo.plugins.sets.fspool import FSPool
from dpzoo.plugins.sets.masks import SetError

POOLS = ["sum", "mean", "fspool"]


def encoder(pool: str, d_in: int = 3, seed: int = 0) -> SetEncoder:
    torch.manual_seed(seed)
    return SetEncoder(d_in, EncoderConfig(hidden=[16, 8], pool=pool, pieces=5, rho=[8], latent=4)).double()


def random_sets(b=4, n=7, d=3, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, n, d, generator=g, dtype=torch.float64)


# -- encoders --------------------------------------------------------------------------
@pytest.mark.parametrize("pool", POOLS)
def test_encoders_are_invariant_to_permuting_the_elements(pool):
    g, X = encoder(pool), random_sets()
    for seed in range(3):
        perm = torch.randperm(X.shape[1], generator=torch.Generator().manual_seed(seed))
        assert torch.allclose(g(X[:, perm]), g(X), atol=1e-12)
    swapped = X.clone()
    swapped[:, [0, 1]] = swapped[:, [1, 0]]
    assert torch.allclose(g(swapped), g(X), atol=1e-12)


@pytest.mark.parametrize("pool", POOLS)
def test_masked_padding_changes_no_encoding(pool):
    g, X = encoder(pool), random_sets()
    padded = torch.cat([X, 100 * random_sets(seed=2)[:, :5]], dim=1)  # five junk slots
    mask = torch.cat([torch.ones(4, 7), torch.zeros(4, 5)], dim=1).double()
    assert torch.allclose(g(padded, mask), g(X), atol=1e-10)
    junk = padded.clone()
    junk[:, 7:] = -junk[:, 7:]
    assert torch.allclose(g(junk, mask), g(padded, mask), atol=1e-12)
    # a set padded differently in each example of a batch reads as its own elements
    mixed = mask.clone()
    mixed[0, 3:7] = 0
    assert torch.allclose(g(padded, mixed)[0], g(X[:1, :3])[0], atol=1e-10)


@pytest.mark.parametrize("pool", ["sum", "mean"])
def test_deepsets_pooling_is_rho_of_the_masked_sum_or_mean(pool):
    g, X = encoder(pool), random_sets()
    phi = g.phi(X)
    pooled = phi.sum(1) if pool == "sum" else phi.mean(1)
    assert torch.allclose(g(X), g.rho(pooled), atol=1e-12)


def test_fspool_matches_its_equation_by_hand():
    """y_d = sum_i W_d(r_i) h~_{i,d}, h~ sorted descending, r_i = (i-1)/(n-1), W_d piecewise linear."""
    torch.manual_seed(0)
    k, n, D = 4, 6, 3
    pool = FSPool(D, pieces=k).double()
    h = torch.randn(1, n, D, dtype=torch.float64)
    expected = torch.zeros(D, dtype=torch.float64)
    for d in range(D):
        column = sorted(h[0, :, d].tolist(), reverse=True)
        for i, value in enumerate(column):
            r = i / (n - 1)
            # W_d(r): interpolate between the knots j/k on either side of r
            j = min(int(math.floor(r * k)), k - 1)
            t = r * k - j
            weight = (1 - t) * pool.w[d, j].item() + t * pool.w[d, j + 1].item()
            expected[d] += weight * value
    assert torch.allclose(pool(h, torch.ones(1, n, dtype=torch.float64))[0], expected, atol=1e-12)
    # a set of one element sits at r = 0 and is weighted by w_{d,0}
    single = pool(h[:, :1], torch.ones(1, 1, dtype=torch.float64))[0]
    assert torch.allclose(single, pool.w[:, 0].detach() * h[0, 0], atol=1e-12)


def test_an_empty_set_or_a_mask_hiding_everything_is_a_clear_error():
    g = encoder("fspool")
    with pytest.raises(SetError, match="empty"):
        g(torch.zeros(2, 0, 3, dtype=torch.float64))
    mask = torch.ones(4, 7, dtype=torch.float64)
    mask[2] = 0
    with pytest.raises(SetError, match=r"hides every element of set\(s\) \[2\]"):
        g(random_sets(), mask)
    with pytest.raises(SetError, match="mask must be"):
        g(random_sets(), torch.ones(4, 6))


def test_deepsets_model_reads_images_or_integers_and_ignores_padding():
    images = dpzoo.create_model("deepsets", element_shape=[1, 8, 8]).double()
    x = torch.rand(3, 5, 1, 8, 8, dtype=torch.float64)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]], dtype=torch.float64)
    y = images({"x": x, "mask": mask})
    assert y.shape == (3,)
    perm = torch.tensor([2, 0, 1, 3, 4])
    assert torch.allclose(images({"x": x[:, perm], "mask": mask[:, perm]}), y, atol=1e-12)
    assert torch.allclose(images({"x": torch.where(mask[..., None, None, None] > 0, x, 7.0), "mask": mask}), y, atol=1e-12)
    integers = dpzoo.create_model("deepsets", vocabulary=10)
    digits = torch.tensor([[3, 1, 4, 0], [1, 5, 9, 2]])
    assert torch.allclose(integers({"x": digits.flip(1)}), integers({"x": digits}), atol=1e-5)
    with pytest.raises(dpzoo.ConfigError, match="element_shape"):
        dpzoo.create_model("deepsets")


# -- set losses ------------------------------------------------------------------------
def brute_force_hungarian(P: torch.Tensor, T: torch.Tensor) -> torch.Tensor:
    """min over every permutation pi of mean_i ||p_i - t_pi(i)||^2, per example."""
    n = P.shape[1]
    values = []
    for b in range(len(P)):
        costs = [sum(float(((P[b, i] - T[b, pi[i]]) ** 2).sum()) for i in range(n)) / n for pi in itertools.permutations(range(n))]
        values.append(min(costs))
    return torch.tensor(values, dtype=torch.float64)


def chamfer_by_loops(P: torch.Tensor, T: torch.Tensor) -> torch.Tensor:
    values = []
    for p, t in zip(P, T):
        d = [[float(((a - c) ** 2).sum()) for c in t] for a in p]
        values.append(np.mean([min(row) for row in d]) + np.mean([min(col) for col in zip(*d)]))
    return torch.tensor(values, dtype=torch.float64)


@pytest.mark.parametrize("n", [1, 2, 5, 6])
def test_hungarian_equals_the_brute_force_minimum_over_permutations(n):
    P, T = random_sets(b=3, n=n, d=2, seed=n), random_sets(b=3, n=n, d=2, seed=10 + n)
    assert torch.allclose(matching.hungarian(P, T), brute_force_hungarian(P, T), atol=1e-12)


def test_chamfer_equals_its_definition_in_both_directions():
    P, T = random_sets(b=3, n=5, d=2, seed=3), random_sets(b=3, n=4, d=2, seed=4)
    assert torch.allclose(matching.chamfer(P, T), chamfer_by_loops(P, T), atol=1e-12)
    assert not torch.allclose(matching.chamfer(P, T), chamfer_by_loops(P, T[:, :3]))


@pytest.mark.parametrize("distance", [matching.chamfer, matching.hungarian])
def test_set_losses_are_invariant_to_permuting_either_argument(distance):
    P, T = random_sets(b=3, n=6, d=2, seed=5), random_sets(b=3, n=6, d=2, seed=6)
    value = distance(P, T)
    for seed in range(3):
        g = torch.Generator().manual_seed(seed)
        p, q = torch.randperm(6, generator=g), torch.randperm(6, generator=g)
        assert torch.allclose(distance(P[:, p], T), value, atol=1e-12)
        assert torch.allclose(distance(P, T[:, q]), value, atol=1e-12)
        assert torch.allclose(distance(P[:, p], T[:, q]), value, atol=1e-12)
    assert torch.allclose(distance(P, P), torch.zeros(3, dtype=torch.float64), atol=1e-12)


def presence_problem(seed: int, n_slots: int = 5):
    """Predicted slots with presence in [0, 1]; targets of 0..n_slots elements padded with junk."""
    P = random_sets(b=4, n=n_slots, d=2, seed=seed)
    m = torch.rand(4, n_slots, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    T = random_sets(b=4, n=n_slots, d=2, seed=seed + 1)
    t = torch.zeros(4, n_slots, dtype=torch.float64)
    for b, size in enumerate([2, n_slots, 0, 3]):
        t[b, :size] = 1
    return P, m, T, t


def test_presence_forms_equal_the_brute_force_over_the_target_padded_with_zeros():
    P, m, T, t = presence_problem(7)
    full_pred = matching.with_presence(P, m)
    full_target = matching.with_presence(T * t[..., None], t)  # padding: coordinates 0, presence 0
    assert torch.allclose(matching.hungarian_with_presence(P, m, T, t), brute_force_hungarian(full_pred, full_target), atol=1e-12)
    assert torch.allclose(matching.chamfer_with_presence(P, m, T, t), chamfer_by_loops(full_pred, full_target), atol=1e-12)
    # what the padded slots of the target hold does not matter
    junk = torch.where(t[..., None] > 0, T, 50.0)
    for form in (matching.hungarian_with_presence, matching.chamfer_with_presence):
        assert torch.allclose(form(P, m, junk, t), form(P, m, T, t), atol=1e-12)


def test_masked_forms_compare_only_the_present_elements():
    P, T = random_sets(b=2, n=4, d=2, seed=8), random_sets(b=2, n=4, d=2, seed=9)
    junk_P = torch.cat([P, 30 + random_sets(b=2, n=3, d=2, seed=10)], dim=1)
    junk_T = torch.cat([T, -30 + random_sets(b=2, n=3, d=2, seed=11)], dim=1)
    mask = torch.cat([torch.ones(2, 4), torch.zeros(2, 3)], dim=1)
    for distance in (matching.chamfer, matching.hungarian):
        assert torch.allclose(distance(junk_P, junk_T, mask, mask), distance(P, T), atol=1e-12)


def test_hungarian_gradients_reach_the_matched_pairs_only():
    """dL_H/dp_i = 2 (p_i - t_pi(i)) / n at the optimal matching pi."""
    P, T = random_sets(b=1, n=5, d=2, seed=12), random_sets(b=1, n=5, d=2, seed=13)
    P.requires_grad_(True)
    matching.hungarian(P, T).sum().backward()
    rows, cols = matching.assignment(matching.pairwise(P, T)[0].detach().numpy())
    expected = 2 * (P.detach()[0, rows] - T[0, cols]) / 5
    assert torch.allclose(P.grad[0, rows], expected, atol=1e-12)


def test_a_target_larger_than_the_capacity_and_unequal_sizes_are_clear_errors():
    P, m, T, t = presence_problem(14, n_slots=5)
    bigger = torch.cat([T, T[:, :2]], dim=1)
    with pytest.raises(SetError, match="7 elements but the prediction has 5 slots"):
        matching.hungarian_with_presence(P, m, bigger, torch.ones(4, 7, dtype=torch.float64))
    with pytest.raises(SetError, match="5 slots"):
        matching.chamfer_with_presence(P, m, bigger, torch.ones(4, 7, dtype=torch.float64))
    with pytest.raises(SetError, match="equal sizes"):
        matching.hungarian(P, T, torch.ones(4, 5), t)


def test_registered_losses_average_over_the_trajectory_and_add_the_representation_term():
    model = dpzoo.create_model("dspn", max_elements=6, element_dim=2, inner_steps=3, encoder={"hidden": [8], "latent": 4})
    batch = {"x": torch.rand(2, 6, 2), "mask": torch.tensor([[1.0] * 4 + [0.0] * 2, [1.0] * 6])}
    output = model(batch)
    loss = dpzoo.create("loss", "chamfer", representation=0.5)(output, batch)
    metric = dpzoo.create("metric", "chamfer")
    per_step = [metric({"set": output["trajectory"][:, s], "mask": output["trajectory_mask"][:, s]}, batch).mean() for s in range(3)]
    assert torch.allclose(loss.terms["set"], torch.stack(per_step).mean(), atol=1e-6)
    assert torch.allclose(loss.total, loss.terms["set"] + 0.5 * output["representation_loss"].mean(), atol=1e-6)
    final_only = dpzoo.create("loss", "hungarian", every_step=False, representation=0.0)(output, batch)
    assert torch.allclose(final_only.total, dpzoo.create("metric", "hungarian")(output, batch).mean(), atol=1e-6)
