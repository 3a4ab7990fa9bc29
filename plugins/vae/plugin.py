"""Registers the VAE, its loss and metrics, and the binarised data. Imports nothing heavy."""

import dpzoo

HERE = "dpzoo.plugins.vae"


@dpzoo.hookimpl
def dpzoo_register_models(register):
    register(
        "vae",
        f"{HERE}.model:VAE",
        summary="Variational autoencoder: Gaussian q(z|x), MLP or conv, Bernoulli or Gaussian p(x|z) (ch. 14.2)",
    )
    register(
        "vae2d",
        f"{HERE}.model:VAE2d",
        summary="VAE with a 2-d latent: decoded grid over [-3, 3]^2, test codes by class (ch. 14.2)",
    )


@dpzoo.hookimpl
def dpzoo_register_losses(register):
    register(
        "elbo",
        f"{HERE}.elbo:ELBO",
        summary="Negative ELBO: -log p(x|z) + beta KL(q(z|x) || p(z)), terms logged apart (ch. 14.2)",
    )


@dpzoo.hookimpl
def dpzoo_register_metrics(register):
    register("neg_elbo", f"{HERE}.metrics:NegativeELBO", summary="Negative ELBO per example, nats (beta = 1)")
    register(
        "iw_nll",
        f"{HERE}.metrics:ImportanceWeightedNLL",
        summary="Importance-weighted bound on -log p(x), nats; k = model.iw_samples",
    )


@dpzoo.hookimpl
def dpzoo_register_datasets(register):
    register(
        "binarised_mnist",
        f"{HERE}.binarised:BinarisedMNIST",
        summary="MNIST binarised: dynamic in training, fixed seeded validation/test",
    )
    register(
        "binarised_digits",
        f"{HERE}.binarised:BinarisedDigits",
        summary="8x8 digits binarised: dynamic in training, fixed seeded validation/test",
    )


@dpzoo.hookimpl
def dpzoo_register_commands(subparsers):
    from .command import add  # argparse only: the evaluation imports on use

    add(subparsers)
