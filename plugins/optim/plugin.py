"""Registers the optimisers and learning-rate schedules of chapter 6. Imports nothing heavy."""

import dpzoo

HERE = "dpzoo.plugins.optim"


@dpzoo.hookimpl
def dpzoo_register_optimisers(register):
    register("sgd", f"{HERE}.sgd:sgd", summary="Mini-batch stochastic gradient descent (ch. 6)")
    register("momentum", f"{HERE}.sgd:momentum", summary="SGD with momentum, optionally Nesterov's (ch. 6)")
    register(
        "adagrad", f"{HERE}.adagrad:adagrad", summary="Adagrad: per-weight rates from summed squared gradients (ch. 6)"
    )
    register(
        "rmsprop",
        f"{HERE}.rmsprop:rmsprop",
        summary="RMSProp: per-weight rates from a leaky average of squared gradients (ch. 6)",
    )
    register("adam", f"{HERE}.adam:adam", summary="Adam: bias-corrected first and second moments (ch. 6)")
    register("adamw", f"{HERE}.adam:adamw", summary="Adam with decoupled weight decay")


@dpzoo.hookimpl
def dpzoo_register_schedulers(register):
    register(
        "step", f"{HERE}.step_decay:step", summary="Multiply the learning rate by gamma every step_size optimiser steps"
    )
    register("cosine", f"{HERE}.cosine:cosine", summary="Cosine annealing to min_lr, with optional linear warm-up")
    register("cyclic", f"{HERE}.cyclic:cyclic", summary="Triangular cyclic learning rates (ch. 6)")
    register(
        "reduce_on_plateau",
        f"{HERE}.plateau:reduce_on_plateau",
        summary="Divide the learning rate when a monitored value stalls (ch. 6)",
    )
