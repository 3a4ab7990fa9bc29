"""Gradient estimators for discrete latents, side by side on one categorical VAE (chapter 9).

Trains the same categorical VAE (``catvae``: N x K latents, MLP encoder and
decoder) once per estimator, with the same seed (so the same initial weights
and the same batches), the same optimiser and the same number of steps:

* ``gumbel``     Gumbel-softmax samples, tau from the model's default schedule
                 max(0.5, exp(-1e-4 t)) (the Gumbel-softmax paper's);
* ``st_gumbel``  straight-through Gumbel-softmax, the same schedule;
* ``reinforce``  the score function with a moving-average baseline;
* ``reinforce, no baseline``  eq. 9.4 as it stands.

For each it prints the test negative ELBO in nats (exact samples z ~ q(z|x),
the same for every estimator) and the seconds its training loop took. Then, at one common set of
parameters (the Gumbel-softmax model's at the end of its run), it measures the
variance of each estimator's gradient of the training loss with respect to the
encoder's weights: ``--draws`` gradients on one fixed batch, differing only in
the sampling noise; it reports the total variance (the trace of their
covariance) and that trace over the squared norm of their mean (noise to
signal). One JSON line with everything ends the output.

    python benchmarks/estimators.py                                   # binarised digits, a few minutes
    python benchmarks/estimators.py --data binarised_mnist --steps 5500
    python benchmarks/estimators.py --zoo mnist                       # the zoo's catvae-*.mnist, no training

With ``--zoo TAG`` nothing is trained: the arms are the zoo's entries
``catvae-gumbel.TAG``, ``catvae-st.TAG`` and ``catvae-reinforce.TAG`` (trained
with one budget and seed; their cards hold the command), each re-evaluated on
its card's test split, and the variances are measured at ``catvae-gumbel.TAG``'s
weights. The zoo has no run without a baseline: that row shows its variance only.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import dataclass

import torch

import dpzoo

ZOO = {"gumbel": "catvae-gumbel", "st_gumbel": "catvae-st", "reinforce": "catvae-reinforce"}
ARMS = {
    "gumbel": {"estimator": "gumbel"},
    "st_gumbel": {"estimator": "st_gumbel"},
    "reinforce": {"estimator": "reinforce", "baseline": True},
    "reinforce, no baseline": {"estimator": "reinforce", "baseline": False},
}


class Backward:
    """The piece of the trainer's context a training step needs here: ``optimise`` only runs backward."""

    def optimise(self, name, loss):
        dpzoo.LossOutput.of(loss).total.backward()


@dataclass
class Arm:
    """What the table needs of one estimator: its model and its test negative ELBO (None: not trained)."""

    model: torch.nn.Module
    test_neg_elbo: float | None
    seconds: float | None = None


def train(arm: dict, args, logdir: str) -> Arm:
    config = {
        "model": {"name": "catvae", "latents": args.latents, "categories": args.categories, **arm},
        "data": args.data,
        "optimiser": {"name": "adam", "lr": args.lr},
        "trainer": {
            "max_steps": args.steps,
            "batch_size": args.batch_size,
            "seed": args.seed,
            "threads": args.threads,
            "progress": False,
            "validate_every": 0,
            "media_every": 0,
        },
        "logdir": logdir,
    }
    result = dpzoo.train(config)
    return Arm(result.model, result.metrics["test/neg_elbo"], result.metrics["seconds"])  # the trainer's own clock


def from_zoo(name: str, tag: str) -> Arm:
    """The zoo entry of estimator ``name``, re-evaluated on its card's test split (the card's figure must agree)."""
    from dpzoo.pretrained.verify import evaluate_on_cpu, load_data

    if name not in ZOO:
        return Arm(None, None)
    entry = f"{ZOO[name]}.{tag}"
    model, card = dpzoo.create_model(entry, pretrained=True), dpzoo.model_card(entry)
    data = load_data(card.data.config, ["test"]).data
    value = evaluate_on_cpu(model, {"metrics": ["neg_elbo"]}, data, "test", card.evaluation.batch_size)["test/neg_elbo"]
    recorded = card.metric("test/neg_elbo").value
    if abs(value - recorded) > card.tolerance:
        raise SystemExit(f"{entry}: test/neg_elbo is {value}, its card says {recorded}")
    return Arm(model, value)


def test_batch(args) -> dict[str, torch.Tensor]:
    """The first ``--batch-size`` images of the arm's data's test split (fixed binarisation)."""
    from dpzoo.pretrained import load_data

    data = load_data({"name": args.data}, ["test"]).data
    return next(iter(data.batches("test", args.batch_size)))


def encoder_gradients(model, batch, draws: int, seed: int) -> torch.Tensor:
    """[draws, P]: the training step's gradient for the encoder's P weights, one row per draw of the noise."""
    torch.manual_seed(seed)
    rows = []
    for _ in range(draws):
        model.zero_grad(set_to_none=True)
        model.training_step(batch, Backward())
        rows.append(torch.cat([p.grad.flatten() for p in model.encoder.parameters()]))
    return torch.stack(rows).double()


def gradient_variance(reference, args, batch, tau: float) -> dict[str, dict[str, float]]:
    weights = {k: v for k, v in reference.state_dict().items() if not k.startswith("estimator.")}
    out = {}
    for name, arm in ARMS.items():
        c = reference.config
        model = dpzoo.create_model(
            "catvae", input_shape=c.input_shape, latents=c.latents, categories=c.categories, hidden=c.hidden, **arm
        )
        model.load_state_dict(weights, strict=False)  # the baseline's buffers are the estimator's own
        model.train()
        model.temperature = tau
        if getattr(model.estimator, "baseline", None) is not None:
            encoder_gradients(model, batch, 50, seed=args.seed + 1)  # let the moving average settle at these weights
        g = encoder_gradients(model, batch, args.draws, seed=args.seed)
        trace = g.var(dim=0).sum().item()
        out[name] = {"variance": trace, "noise_to_signal": trace / g.mean(dim=0).pow(2).sum().item()}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="binarised_digits", help="binarised_digits or binarised_mnist")
    parser.add_argument("--steps", type=int, default=3000, help="training steps per estimator (the budget)")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--latents", type=int, default=20, help="N")
    parser.add_argument("--categories", type=int, default=10, help="K")
    parser.add_argument("--draws", type=int, default=200, help="gradients per estimator for the variance")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--tau", type=float, default=0.5, help="--zoo only: tau for the variances (the schedule's floor)"
    )
    parser.add_argument("--zoo", metavar="TAG", help="measure the zoo's catvae-*.TAG entries instead of training")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    if args.zoo:
        results = {name: from_zoo(name, args.zoo) for name in ARMS}
        args.data = dpzoo.model_card(f"catvae-gumbel.{args.zoo}").data.name
        tau, what = args.tau, f"the zoo's catvae-*.{args.zoo} (see their cards for the budget)"
    else:
        with tempfile.TemporaryDirectory() as logdir:
            results = {}
            for name, arm in ARMS.items():
                results[name] = train(arm, args, logdir)
                print(
                    f"trained {name}: test -ELBO {results[name].test_neg_elbo:.2f} nats "
                    f"in {results[name].seconds:.0f} s",
                    flush=True,
                )
        tau = results["gumbel"].model.temperature  # where the Gumbel run's schedule ended
        what = f"{args.latents} x {args.categories} latents, {args.steps} steps of {args.batch_size}, Adam lr {args.lr}, seed {args.seed}"
    variance = gradient_variance(results["gumbel"].model, args, test_batch(args), tau)

    print(
        f"\n{args.data}, {what}; gradient variance over {args.draws} draws on one test batch "
        f"at the Gumbel model's final weights (tau = {tau:.3f})\n"
    )
    header = f"{'estimator':<24} {'test -ELBO (nats)':>18} {'grad variance':>14} {'vs gumbel':>10} {'noise/signal':>13} {'seconds':>8}"
    print(header)
    print("-" * len(header))
    base = variance["gumbel"]["variance"]
    for name in ARMS:
        v, arm = variance[name], results[name]
        elbo = f"{arm.test_neg_elbo:.2f}" if arm.test_neg_elbo is not None else "-"
        seconds = f"{arm.seconds:.0f}" if arm.seconds is not None else "-"
        print(
            f"{name:<24} {elbo:>18} {v['variance']:>14.4g} {v['variance'] / base:>9.1f}x "
            f"{v['noise_to_signal']:>13.3g} {seconds:>8}"
        )
    unused = {"steps", "lr", "latents", "categories"} if args.zoo else {"tau", "zoo"}  # the zoo's cards hold its budget
    print(
        json.dumps(
            {
                "args": {k: v for k, v in vars(args).items() if k not in unused},
                "arms": {
                    name: {
                        "test_neg_elbo": results[name].test_neg_elbo,
                        "seconds": results[name].seconds,
                        **variance[name],
                    }
                    for name in ARMS
                },
            }
        )
    )


if __name__ == "__main__":
    main()
