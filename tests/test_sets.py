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
    assert torch.allclose(
        images({"x": torch.where(mask[..., None, None, None] > 0, x, 7.0), "mask": mask}), y, atol=1e-12
    )
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
        costs = [
            sum(float(((P[b, i] - T[b, pi[i]]) ** 2).sum()) for i in range(n)) / n
            for pi in itertools.permutations(range(n))
        ]
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
    assert torch.allclose(
        matching.hungarian_with_presence(P, m, T, t), brute_force_hungarian(full_pred, full_target), atol=1e-12
    )
    assert torch.allclose(
        matching.chamfer_with_presence(P, m, T, t), chamfer_by_loops(full_pred, full_target), atol=1e-12
    )
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
    model = dpzoo.create_model(
        "dspn", max_elements=6, element_dim=2, inner_steps=3, encoder={"hidden": [8], "latent": 4}
    )
    batch = {"x": torch.rand(2, 6, 2), "mask": torch.tensor([[1.0] * 4 + [0.0] * 2, [1.0] * 6])}
    output = model(batch)
    loss = dpzoo.create("loss", "chamfer", representation=0.5)(output, batch)
    metric = dpzoo.create("metric", "chamfer")
    per_step = [
        metric({"set": output["trajectory"][:, s], "mask": output["trajectory_mask"][:, s]}, batch).mean()
        for s in range(3)
    ]
    assert torch.allclose(loss.terms["set"], torch.stack(per_step).mean(), atol=1e-6)
    assert torch.allclose(loss.total, loss.terms["set"] + 0.5 * output["representation_loss"].mean(), atol=1e-6)
    final_only = dpzoo.create("loss", "hungarian", every_step=False, representation=0.0)(output, batch)
    assert torch.allclose(final_only.total, dpzoo.create("metric", "hungarian")(output, batch).mean(), atol=1e-6)


def test_set_size_error_counts_slots_present_above_one_half_against_the_target_count():
    metric = dpzoo.create("metric", "set_size_error")
    presence = torch.tensor([[0.9, 0.6, 0.5, 0.0, 0.2], [1.0, 1.0, 1.0, 1.0, 0.51]])
    batch = {"x": torch.rand(2, 4, 2), "mask": torch.tensor([[1.0, 1.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0]])}
    output = {"set": torch.rand(2, 5, 2), "mask": presence}
    # 2 slots above 1/2 (0.5 is not) against 3 targets; 5 against 1
    assert metric(output, batch).tolist() == [1.0, 4.0]
    assert dpzoo.create("metric", "set_size_error", target_mask=None)(output, batch).tolist() == [2.0, 1.0]
    assert metric(torch.rand(2, 5, 2), batch).tolist() == [2.0, 4.0]  # a bare set: every slot present
    with pytest.raises(dpzoo.ConfigError, match="batch\\['points_mask'\\].*it has \\['mask', 'x'\\]"):
        dpzoo.create("metric", "set_size_error", target_mask="points_mask")(output, batch)


# -- DSPN --------------------------------------------------------------------------------
def small_dspn(**overrides) -> torch.nn.Module:
    torch.manual_seed(0)
    options = {
        "max_elements": 6,
        "element_dim": 2,
        "inner_steps": 4,
        "inner_lr": 2.0,
        "encoder": {"hidden": [16, 8], "latent": 4, "pieces": 4},
    }
    return dpzoo.create_model("dspn", **{**options, **overrides}).double()


def point_batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(3, 6, 2, generator=g, dtype=torch.float64)
    mask = torch.tensor([[1.0] * 4 + [0.0] * 2, [1.0] * 6, [1.0] * 2 + [0.0] * 4], dtype=torch.float64)
    return {"x": x, "mask": mask}


@pytest.mark.parametrize("pool_all_slots", [False, True])
def test_dspn_output_ignores_the_input_order_and_padding(pool_all_slots):
    model, batch = small_dspn(pool_all_slots=pool_all_slots).eval(), point_batch()
    out = model(batch)
    perm = torch.tensor([3, 1, 0, 2, 4, 5])  # permutes the real elements of every example
    assert torch.allclose(
        model({"x": batch["x"][:, perm], "mask": batch["mask"][:, perm]})["set"], out["set"], atol=1e-10
    )
    junk = torch.where(batch["mask"][..., None] > 0, batch["x"], 9.0)
    assert torch.allclose(model({"x": junk, "mask": batch["mask"]})["set"], out["set"], atol=1e-10)


def test_dspn_pooling_every_slot_reads_the_input_padded_to_its_capacity():
    model, batch = small_dspn(pool_all_slots=True).eval(), point_batch()
    out = model(batch)
    short = {"x": batch["x"][2:, :3], "mask": batch["mask"][2:, :3]}  # the third set in 3 slots: padded to 6 inside
    assert torch.allclose(model(short)["set"], out["set"][2:], atol=1e-10)
    wide = {k: torch.cat([v, torch.zeros_like(v[:, :2])], dim=1) for k, v in batch.items()}  # 2 more empty slots
    assert torch.allclose(model(wide)["set"], out["set"], atol=1e-10)
    wide["mask"][1, 7] = 1.0
    with pytest.raises(SetError, match="slot 7 or beyond.*max_elements = 6"):
        model(wide)


def test_dspn_representation_is_continuous_in_the_presence_only_when_it_pools_every_slot():
    """A slot's presence going from 1e-9 to 0 moves g(Y, m) by about 1e-9 when m is only a feature (DSPN's
    encoder); when g drops slots with m = 0 from FSPool's ranks, every other slot's rank moves: a jump."""
    g = torch.Generator().manual_seed(3)
    Y = torch.rand(3, 6, 2, generator=g, dtype=torch.float64)
    near = 0.2 + 0.8 * torch.rand(3, 6, generator=g, dtype=torch.float64)
    near[:, 0] = 1e-9
    gone = near.clone()
    gone[:, 0] = 0.0
    jumps = {}
    for pool_all in (True, False):
        model = small_dspn(pool_all_slots=pool_all)
        jumps[pool_all] = float((model.encode_set(Y, near) - model.encode_set(Y, gone)).abs().max().detach())
    assert jumps[True] < 1e-7 and jumps[False] > 1e-3, jumps


@pytest.mark.parametrize("pool_all_slots", [False, True])
def test_dspn_is_permutation_equivariant_in_its_slots(pool_all_slots):
    """g is invariant, so dL_repr/dY is equivariant: permuting the initial slots permutes the output slots alike."""
    model, batch = small_dspn(pool_all_slots=pool_all_slots).eval(), point_batch()
    out = model(batch)
    perm = torch.tensor([5, 2, 0, 4, 1, 3])
    with torch.no_grad():
        model.initial_set.copy_(model.initial_set[perm])
        model.initial_mask.copy_(model.initial_mask[perm])
    permuted = model(batch)
    assert torch.allclose(permuted["set"], out["set"][:, perm], atol=1e-10)
    assert torch.allclose(permuted["mask"], out["mask"][:, perm], atol=1e-10)
    assert not torch.allclose(permuted["set"], out["set"])


def test_dspn_inner_loop_runs_under_no_grad_and_takes_the_evaluation_steps():
    model, batch = small_dspn(eval_inner_steps=9), point_batch()
    model.eval()
    with torch.no_grad():
        out = model(batch)
    assert out["trajectory"].shape == (3, 9, 6, 2) and out["inner_losses"].shape == (3, 10)
    assert not out["set"].requires_grad and all(p.grad is None for p in model.parameters())
    model.train()
    assert model(batch)["trajectory"].shape[1] == 4
    with torch.inference_mode(), pytest.raises(RuntimeError, match=r"inference_mode\(\) forbids.*torch.no_grad"):
        model.eval()(batch)  # documented: evaluation needs no_grad, not inference_mode
    with torch.no_grad(), pytest.raises(SetError, match="steps=0"):
        model.inner_loop(model.encode_input(batch["x"], batch["mask"]), steps=0)


def test_gradients_reach_the_input_encoder_only_through_the_inner_loop():
    """With h apart from g, the set loss depends on h's weights only via z in L_repr, i.e. through the inner steps."""
    model, batch = small_dspn(shared_encoder=False), point_batch()
    model.train()
    loss = dpzoo.create("loss", "chamfer", representation=0.0)(model(batch), batch).total
    loss.backward()
    for name, module in (("h", model.h), ("g", model.g)):
        grads = [p.grad for p in module.parameters()]
        assert all(g is not None for g in grads) and sum(float(g.abs().sum()) for g in grads) > 0, name
    assert float(model.initial_set.grad.abs().sum()) > 0


@pytest.mark.parametrize("pool_all_slots", [False, True])
def test_dspn_inner_gradient_step_is_the_update_rule(pool_all_slots):
    """Y(1) = Y(0) - eta dL_repr/dY(0), m(1) = clamp(m(0) - eta dL_repr/dm(0), 0, 1), re-derived with autograd."""
    model, batch = small_dspn(inner_steps=1, pool_all_slots=pool_all_slots), point_batch()
    model.eval()
    out = model(batch)
    z = model.encode_input(batch["x"], batch["mask"]).detach()
    Y = model.initial_set.detach().expand(3, -1, -1).clone().requires_grad_(True)
    m = model.initial_mask.detach().clamp(0, 1).expand(3, -1).clone().requires_grad_(True)
    pooled = torch.ones_like(m) if pool_all_slots else m  # which slots g pools: all, or the present ones
    loss = (model.g.encode(torch.cat([Y, m[..., None]], -1), pooled) - z).pow(2).sum()
    dY, dm = torch.autograd.grad(loss, (Y, m))
    assert torch.allclose(out["set"], Y - 2.0 * dY, atol=1e-12)
    assert torch.allclose(out["mask"], (m - 2.0 * dm).clamp(0, 1), atol=1e-12)


def test_dspn_evaluation_steps_past_the_trained_ones_never_raise_the_representation_loss():
    """At a step size where plain steps overshoot, the extra evaluation steps are refused where they would."""
    T, batch = 4, point_batch()  # small_dspn trains with 4 inner steps
    with torch.no_grad():
        plain = small_dspn(inner_lr=200.0, eval_inner_steps=30, eval_backtracking=False).eval()(batch)
        guarded = small_dspn(inner_lr=200.0, eval_inner_steps=30).eval()(batch)
    p, g = plain["inner_losses"], guarded["inner_losses"]  # L_repr at Y(0), ..., Y(30)
    assert (p[:, T + 1 :] > p[:, T:-1]).any()  # this step size does overshoot past the trained steps
    assert not (g[:, T + 1 :] > g[:, T:-1]).any()
    # the trained steps are the trained update rule, to the bit
    assert torch.equal(g[:, : T + 1], p[:, : T + 1])
    assert torch.equal(guarded["trajectory"][:, :T], plain["trajectory"][:, :T])
    # a refused step leaves the set and the presence where they were; a taken one moves them
    refused = g[:, T + 1 :] == g[:, T:-1]
    assert refused.any() and not refused.all()
    for key in ("trajectory", "trajectory_mask"):
        path = guarded[key]
        moved = (path[:, T:] != path[:, T - 1 : -1]).flatten(2).any(-1)
        assert torch.equal(moved, ~refused), key


def test_dspn_training_takes_plain_steps_whatever_eval_backtracking_says():
    batch = point_batch()
    sets = [small_dspn(inner_lr=200.0, eval_backtracking=flag).train()(batch)["trajectory"] for flag in (False, True)]
    assert sets[0].shape[1] == 4 and torch.equal(sets[0], sets[1])


@pytest.mark.parametrize(
    "device",
    ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"))],
)
def test_evaluation_under_the_trainer_runs_the_inner_loop(tmp_path, device):
    result = dpzoo.train(
        {
            "model": {
                "name": "dspn",
                "inner_steps": 2,
                "eval_inner_steps": 3,
                "encoder": {"hidden": [16], "latent": 8},
            },
            "data": {"name": "pixelsets", "train_examples": 64, "validation_examples": 16, "test_examples": 16},
            "trainer": {"max_steps": 2, "batch_size": 32, "progress": False, "device": device, "threads": 1},
            "logdir": str(tmp_path),
        }
    )
    for key in ("validation/chamfer", "validation/hungarian", "test/chamfer", "test/loss", "test/representation"):
        assert math.isfinite(result.metrics[key]) and result.metrics[key] > 0, key
    values = result.trainer.evaluate("test")
    assert values["test/chamfer"] == pytest.approx(result.metrics["test/chamfer"], abs=1e-6)
    # media: predicted-vs-target scatter plots and the inner loop's frames, read back from the events
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(result.run_dir), size_guidance={"images": 0}).Reload()
    sets, frames = events.Images("media/sets")[-1], events.Images("media/inner_loop")[-1]
    assert sets.width > 96 and sets.height > 96  # a grid of several 96-pixel plots
    assert frames.width >= 4 * 96 and frames.height < 2 * 96  # one row: the initial set and 3 evaluation steps


# -- data --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def digit_points():
    dataset = dpzoo.create("dataset", "pixelsets")
    return dataset, dataset.load()


def test_pixel_sets_are_exactly_the_bright_pixels_of_each_image(digit_points):
    from sklearn.datasets import load_digits

    from dpzoo.plugins.data.digits import split_indices
    from dpzoo.tables import to_arrays

    dataset, splits = digit_points
    assert dataset.info() == {"max_elements": 27, "element_dim": 2}
    images = load_digits().images / 16.0
    for split in ("train", "test"):
        arrays = to_arrays(splits[split], ["x", "mask", "y"])
        index = split_indices()[split]
        assert np.array_equal(arrays["y"], load_digits().target[index])
        for k in range(0, len(index), 37):
            points = arrays["x"][k][arrays["mask"][k] > 0]
            drawn = np.zeros((8, 8), bool)
            drawn[np.rint((1 - points[:, 1]) * 7).astype(int), np.rint(points[:, 0] * 7).astype(int)] = True
            assert np.array_equal(drawn, images[index[k]] > 0.5) and len(points) == drawn.sum()
            assert not arrays["x"][k][arrays["mask"][k] == 0].any()


def test_pixel_sets_are_seeded_and_refuse_a_set_larger_than_the_capacity(digit_points):
    from dpzoo.fingerprint import fingerprint
    from dpzoo.tables import to_arrays

    def columns(dataset_dict):
        return {k: torch.from_numpy(v) for k, v in to_arrays(dataset_dict["validation"], ["x", "mask"]).items()}

    _, splits = digit_points
    again = dpzoo.create("dataset", "pixelsets").load()
    reordered = dpzoo.create("dataset", "pixelsets", seed=1).load()
    keys = ("x", "mask")
    assert fingerprint(columns(again), keys) == fingerprint(columns(splits), keys)
    assert fingerprint(columns(reordered), keys) != fingerprint(columns(splits), keys)
    a, b = columns(splits), columns(reordered)
    assert torch.equal(a["mask"].sum(1), b["mask"].sum(1))
    assert (
        matching.chamfer(a["x"][:20], b["x"][:20], a["mask"][:20], b["mask"][:20]).max() == 0
    )  # same sets, other order
    with pytest.raises(SetError, match="max_elements is 10"):
        dpzoo.create("dataset", "pixelsets", max_elements=10).load()


def test_digit_sum_targets_are_the_sums_and_the_test_sets_are_longer():
    from dpzoo.tables import to_arrays

    dataset = dpzoo.create("dataset", "digitsum", source="integers", train_sets=200, validation_sets=20, test_sets=50)
    splits = dataset.load()
    assert dataset.info() == {"vocabulary": 10}
    train = to_arrays(splits["train"], ["x", "mask", "y"])
    test = to_arrays(splits["test"], ["x", "mask", "y"])
    assert np.array_equal(train["y"], (train["x"] * train["mask"]).sum(1))
    assert train["mask"].sum(1).max() <= 10 and test["mask"].sum(1).min() >= 11 and test["mask"].sum(1).max() <= 50
    images = dpzoo.create("dataset", "digitsum", train_sets=50, validation_sets=5, test_sets=5)
    x = to_arrays(images.load()["train"], ["x"])["x"]
    assert x.shape[1:] == (10, 1, 8, 8) and images.info() == {"element_shape": [1, 8, 8]}


# -- zoo entries (their card metrics are re-evaluated by tests/test_zoo.py) -------------------
def test_digitsum_entry_sums_sets_longer_than_any_it_trained_on():
    card = dpzoo.model_card("deepsets.digitsum")
    data = card.data.config
    assert data["source"] == "integers" and data["test_sizes"][0] > data["max_train_size"]
    assert card.metric("test/rounded_accuracy").value >= 0.99 and card.metric("test/mae").value <= 0.05
    assert card.command.startswith("dpzoo train --model deepsets --data digitsum")
    model = dpzoo.create_model("deepsets.digitsum", pretrained=True).eval()
    digits = torch.randint(0, 10, (20, 100), generator=torch.Generator().manual_seed(0))  # ten times training's longest
    with torch.no_grad():
        predicted = model({"x": digits, "mask": torch.ones(20, 100)})
    assert torch.equal(predicted.round(), digits.sum(1).float())


@pytest.fixture(scope="module")
def mnist_point_sets(mnist_dir):
    card = dpzoo.model_card("dspn.mnistsets")
    from dpzoo.tables import to_arrays

    dataset = dpzoo.create("dataset", "pixelsets", **{k: v for k, v in card.data.config.items() if k != "name"})
    test = to_arrays(dataset.load()["test"], ["x", "mask"])
    return {k: torch.from_numpy(v[:200]) for k, v in test.items()}


def test_mnistsets_entries_are_scored_on_the_same_test_sets():
    dspn, mlp = dpzoo.model_card("dspn.mnistsets"), dpzoo.model_card("mlpdecoder.mnistsets")
    assert dspn.data.config == mlp.data.config and dspn.data.fingerprints == mlp.data.fingerprints
    assert dspn.data.config["source"] == "mnist"
    for card in (dspn, mlp):
        assert {"test/chamfer", "test/hungarian"} <= {m.name for m in card.metrics}
    assert dspn.config["eval_inner_steps"] > dspn.config["inner_steps"]


def test_trained_dspn_inner_loop_lowers_the_representation_loss_at_each_trained_step(mnist_point_sets):
    model = dpzoo.create_model("dspn.mnistsets", pretrained=True).eval()
    with torch.no_grad():
        out = model.inner_loop(
            model.encode_input(mnist_point_sets["x"], mnist_point_sets["mask"]), steps=model.config.inner_steps
        )
    losses = out["inner_losses"].mean(0)  # L_repr at Y(0), Y(1), ..., Y(T), averaged over the sets
    assert len(losses) == model.config.inner_steps + 1
    assert (losses[1:] < losses[:-1]).all(), losses
    assert losses[-1] < 0.01 * losses[0]


def test_more_inner_steps_at_evaluation_do_not_make_dspn_worse(mnist_point_sets):
    """The card's 20 evaluation steps against the 5 trained ones, on 200 test sets (on 48 the plain loop passed by luck).

    Without backtracking the same 20 steps are worse than 5 (the plain loop climbs away from its minimum after 7),
    so this fails if the safeguard stops working.
    """
    model = dpzoo.create_model("dspn.mnistsets", pretrained=True).eval()
    assert model.config.eval_backtracking and model.config.eval_inner_steps == 20
    chamfer, hungarian = dpzoo.create("metric", "chamfer"), dpzoo.create("metric", "hungarian")

    def scores(out):
        return chamfer(out, mnist_point_sets).mean(), hungarian(out, mnist_point_sets).mean()

    with torch.no_grad():
        z = model.encode_input(mnist_point_sets["x"], mnist_point_sets["mask"])
        trained = scores(model.inner_loop(z, steps=model.config.inner_steps))
        card = scores(model(mnist_point_sets))
        plain = scores(dpzoo.create_model("dspn.mnistsets", pretrained=True, eval_backtracking=False)(mnist_point_sets))
    assert card[0] <= trained[0] and card[1] <= trained[1]
    assert plain[0] > trained[0] and plain[1] > trained[1]


def test_mlp_decoder_marks_one_fixed_number_of_slots_present_where_dspn_counts_each_digit(mnist_point_sets):
    """Why the MLP decoder wins on Chamfer (README): its presence ignores the digit, under half the points, always."""
    size = dpzoo.create("metric", "set_size_error")
    n = mnist_point_sets["mask"].sum(1)
    with torch.no_grad():
        mlp = dpzoo.create_model("mlpdecoder.mnistsets", pretrained=True).eval()(mnist_point_sets)
        dspn = dpzoo.create_model("dspn.mnistsets", pretrained=True).eval()(mnist_point_sets)
    mlp_count = (mlp["mask"] > 0.5).sum(1)
    assert n.min() < n.max() / 4  # the digits' sizes vary widely
    assert len(mlp_count.unique()) == 1 and mlp_count[0] < n.mean() / 2
    assert size(dspn, mnist_point_sets).mean() < 1 < size(mlp, mnist_point_sets).mean() / 40
