"""Registers chapter 9's estimators for discrete samples and the categorical VAE. Imports nothing heavy."""

import dpzoo

HERE = "dpzoo.plugins.gumbel"


@dpzoo.hookimpl
def dpzoo_register_relaxations(register):
    register(
        "gumbel_softmax",
        f"{HERE}.gumbel_softmax:GumbelSoftmax",
        summary="softmax((x + g)/tau), g Gumbel noise; hard: the Gumbel-max sample (ch. 9)",
    )
    register(
        "st_gumbel",
        f"{HERE}.gumbel_softmax:StraightThroughGumbelSoftmax",
        summary="One-hot Gumbel-max sample forwards, Gumbel-softmax gradient backwards (ch. 9)",
    )
    register(
        "reinforce",
        f"{HERE}.reinforce:Reinforce",
        summary="Exact categorical samples; score-function surrogate with a moving-average baseline (ch. 9, eq. 9.4)",
    )


@dpzoo.hookimpl
def dpzoo_register_models(register):
    register(
        "catvae",
        f"{HERE}.catvae:CategoricalVAE",
        summary="VAE with N x K categorical latents; estimator gumbel, st_gumbel or reinforce (ch. 9, 14)",
    )
    register(
        "catvae-gumbel",
        f"{HERE}.catvae:GumbelCategoricalVAE",
        summary="Categorical VAE trained with Gumbel-softmax samples (ch. 9)",
    )
    register(
        "catvae-st",
        f"{HERE}.catvae:STCategoricalVAE",
        summary="Categorical VAE trained with straight-through Gumbel-softmax (ch. 9)",
    )
    register(
        "catvae-reinforce",
        f"{HERE}.catvae:ReinforceCategoricalVAE",
        summary="Categorical VAE trained with REINFORCE and a baseline (ch. 9)",
    )
