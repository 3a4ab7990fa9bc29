"""Registers the set models, losses, metrics and data (section 1.3.2, chapter 16). Imports nothing heavy."""

import dpzoo

HERE = "dpzoo.plugins.sets"


@dpzoo.hookimpl
def dpzoo_register_models(register):
    register(
        "deepsets",
        f"{HERE}.deepsets:DeepSets",
        summary="DeepSets rho(sum_i phi(x_i)): a number from a set, e.g. a digit sum (ch. 16)",
    )
    register(
        "mlpdecoder",
        f"{HERE}.mlp_decoder:MLPDecoder",
        summary="Set encoder then an MLP to a fixed-size list of slots: the set-prediction baseline (ch. 16)",
    )
    register(
        "dspn",
        f"{HERE}.dspn:DSPN",
        summary="Deep Set Prediction Network: the set found by gradient descent inside the forward pass (s. 1.3.2, ch. 16)",
    )


@dpzoo.hookimpl
def dpzoo_register_losses(register):
    register(
        "chamfer",
        f"{HERE}.losses:ChamferLoss",
        summary="Chamfer set loss, both directions, presence as a feature (s. 1.3.2, ch. 16)",
    )
    register(
        "hungarian",
        f"{HERE}.losses:HungarianLoss",
        summary="Hungarian set loss: optimal assignment (SciPy), gradients through matched pairs (ch. 16)",
    )
    register(
        "mae", f"{HERE}.sum_metrics:AbsoluteErrorLoss", summary="Mean absolute error, the L1 loss (DeepSets' digit sum)"
    )


@dpzoo.hookimpl
def dpzoo_register_metrics(register):
    register(
        "chamfer", f"{HERE}.losses:ChamferMetric", summary="Chamfer distance of the final predicted set, per example"
    )
    register(
        "hungarian",
        f"{HERE}.losses:HungarianMetric",
        summary="Hungarian distance of the final predicted set, per example",
    )
    register(
        "set_size_error",
        f"{HERE}.losses:SetSizeError",
        summary="|predicted count - target count| per example, a slot counted present when m^ > 1/2",
    )
    register("mae", f"{HERE}.sum_metrics:AbsoluteError", summary="Absolute error |y^ - y| per example")
    register(
        "rounded_accuracy",
        f"{HERE}.sum_metrics:RoundedAccuracy",
        summary="Fraction of examples whose rounded prediction equals the target",
    )


@dpzoo.hookimpl
def dpzoo_register_datasets(register):
    register(
        "pixelsets",
        f"{HERE}.pixelsets:PixelSets",
        summary="Digits as sets of (x, y) pixel positions above a threshold, padded with a mask (DSPN's MNIST set)",
    )
    register(
        "digitsum",
        f"{HERE}.digitsum:DigitSum",
        summary="Sets of digits (images or integers) and their sum; test sets longer than training's (DeepSets)",
    )
