"""Registers the DCGAN and the generative scores. Imports nothing heavy: each loads on first use."""

import dpzoo

HERE = "dpzoo.plugins.gan"


@dpzoo.hookimpl
def dpzoo_register_models(register):
    register(
        "dcgan",
        f"{HERE}.model:DCGAN",
        summary="Deep convolutional GAN: strided convolutions, batch norm, two optimisers (ch. 14.3)",
    )


@dpzoo.hookimpl
def dpzoo_register_metrics(register):
    register(
        "frechet_distance",
        f"{HERE}.frechet:FrechetDistance",
        summary="Fréchet distance between generated and real images in a zoo classifier's features (lower is better)",
    )
    register(
        "inception_score",
        f"{HERE}.inception_score:InceptionScore",
        summary="exp(E KL(p(y|x) || p(y))) of generated images under a zoo classifier (higher is better)",
    )


@dpzoo.hookimpl
def dpzoo_register_commands(subparsers):
    from .command import add  # argparse only: the scores import on use

    add(subparsers)
