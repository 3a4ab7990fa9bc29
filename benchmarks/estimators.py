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
the same for every estimator) and the seconds taken. Then, at one common set of
parameters (the Gumbel-softmax model's at the end of its run), it measures the
variance of each estimator's gradient of the training loss with respect to the
encoder's weights: ``--draws`` gradients on one fixed batch, differing only in
the sampling noise; it reports the total variance (the trace of their
covariance) and that trace over the squared norm of their mean (noise to
signal). One JSON line with everything ends the output.

    python benchmarks/estimators.py                                   # binarised digits, a few minutes
    python benchmarks/estimators.py --data binarised_mnist --steps 5500
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import torch

import dpzoo

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


def train(arm: dict, args, logdir: str) -> dpzoo.run.RunResult:
    config = {
        "model": {"name": "catvae", "latents": args.latents, "categories": args.categories, **arm},
        "data": args.data,
        "optimiser": {"name": "adam", "lr": args.lr},
        "trainer": {"max_steps": args.steps, "batch_size": args.batch_size, "seed": args.seed, "threads": args.threads,
                    "progress": False, "validate_every": 0, "media_every": 0},
        "logdir": logdir,
    }
    return dpzoo.train(config)


def encoder_gradients(model, batch, draws: int, seed: int) -> torch.Tensor:
    """[draws, P]: the training step's gradient for the encoder's P weights, one row per draw of the noise."""
    torch.manual_seed(seed)
    rows = []
    for _ in range(draws):
        model.zero_grad(set_to_none=True)
        model.training_step(batch, Backward())
        rows.append(torch.cat([p.grad.flatten() for p in model.encoder.parameters()]))
    return torch.stack(rows).double()


def gradient_variance(results, args, batch) -> dict[str, dict[str, float]]:
    reference = results["gumbel"].model
    weights = {k: v for k, v in reference.state_dict().items() if not k.startswith("estimator.")}
    tau = reference.temperature  # where the Gumbel run's schedule ended
    out = {}
    for name, arm in ARMS.items():
        model = dpzoo.create_model("catvae", input_shape=reference.config.input_shape, latents=args.latents,
                                   categories=args.categories, **arm)
        model.load_state_dict(weights, strict=False)  # the baseline's buffers are the estimator's own
        model.train()
        model.temperature = tau
        if getattr(model.estimator, "baseline", None) is not None:
            encoder_gradients(model, batch, 50, seed=args.seed + 1)  # let the moving average settle at these weights
        g = encoder_gradients(model, batch, args.draws, seed=args.seed)
        trace = g.var(dim=0).sum().item()
        out[name] = {"variance": trace, "noise_to_signal": trace / g.mean(dim=0).pow(2).sum().item(), "tau": tau}
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
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    dpzoo.create("dataset", args.data).load()  # imports and the first load outside the timed arms
    results, seconds = {}, {}
    with tempfile.TemporaryDirectory() as logdir:
        for name, arm in ARMS.items():
            started = time.perf_counter()
            results[name] = train(arm, args, logdir)
            seconds[name] = time.perf_counter() - started
            print(f"trained {name}: test -ELBO {results[name].metrics['test/neg_elbo']:.2f} nats "
                  f"in {seconds[name]:.0f} s", flush=True)
        batch = next(iter(results["gumbel"].trainer.data.batches("test", args.batch_size)))
        variance = gradient_variance(results, args, batch)

    print(f"\n{args.data}, {args.latents} x {args.categories} latents, {args.steps} steps of {args.batch_size}, "
          f"Adam lr {args.lr}, seed {args.seed}; gradient variance over {args.draws} draws on one test batch "
          f"at the Gumbel model's final weights (tau = {variance['gumbel']['tau']:.3f})\n")
    header = f"{'estimator':<24} {'test -ELBO (nats)':>18} {'grad variance':>14} {'vs gumbel':>10} {'noise/signal':>13} {'seconds':>8}"
    print(header)
    print("-" * len(header))
    base = variance["gumbel"]["variance"]
    for name in ARMS:
        v = variance[name]
        print(f"{name:<24} {results[name].metrics['test/neg_elbo']:>18.2f} {v['variance']:>14.4g} "
              f"{v['variance'] / base:>9.1f}x {v['noise_to_signal']:>13.3g} {seconds[name]:>8.0f}")
    print(json.dumps({
        "args": vars(args),
        "arms": {name: {"test_neg_elbo": results[name].metrics["test/neg_elbo"], "seconds": seconds[name], **variance[name]}
                 for name in ARMS},
    }))


if __name__ == "__main__":
    main()
