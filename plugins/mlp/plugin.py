"""Registers the MLP. Imports nothing heavy: the model loads on first use."""

import dpzoo


@dpzoo.hookimpl
def dpzoo_register_models(register):
    register(
        "mlp",
        "dpzoo.plugins.mlp.model:MLP",
        summary="Multilayer perceptron; no hidden layers is softmax regression (ch. 2-4, 7)",
    )
