"""Registers differentiable drawing (section 1.3.5). Imports nothing heavy: each component loads on first use."""

import dpzoo

HERE = "dpzoo.plugins.drawing"


@dpzoo.hookimpl
def dpzoo_register_models(register):
    register(
        "sketch",
        f"{HERE}.sketch:Sketch",
        summary="Strokes optimised to match each target image through a soft rasteriser (1.3.5)",
    )
    register(
        "sketcher",
        f"{HERE}.sketcher:Sketcher",
        summary="CNN encoder predicting K strokes in one pass, decoded by the soft rasteriser (1.3.5)",
    )


@dpzoo.hookimpl
def dpzoo_register_datasets(register):
    register(
        "sketch_targets",
        f"{HERE}.targets:SketchTargets",
        summary="Images to sketch: digits, MNIST, skimage:NAME or PNGs; x and index i",
    )


@dpzoo.hookimpl
def dpzoo_register_losses(register):
    register(
        "multiscale_mse",
        f"{HERE}.losses:MultiScaleMSE",
        summary="MSE averaged over 2x poolings, after an optional Gaussian blur",
    )


@dpzoo.hookimpl
def dpzoo_register_metrics(register):
    register("pixel_mse", f"{HERE}.losses:PixelMSE", summary="Per-image mean squared pixel error of a rendering")


@dpzoo.hookimpl
def dpzoo_register_commands(subparsers):
    from .command import add  # argparse only: the work imports when the command runs

    add(subparsers)
