"""Registers the losses and metrics of chapter 2. Imports nothing heavy: each loads on first use."""

import dpzoo

HERE = "dpzoo.plugins.objectives"


@dpzoo.hookimpl
def dpzoo_register_losses(register):
    register("mse", f"{HERE}.mse:MSE", summary="Mean squared error, for regression (ch. 2.4)")
    register("huber", f"{HERE}.huber:Huber", summary="Huber loss; smooth L1 at delta = 1 (ch. 2.4, 9)")
    register("bce_logits", f"{HERE}.bce:BCEWithLogits", summary="Binary cross-entropy on logits (ch. 2.4)")
    register(
        "cross_entropy",
        f"{HERE}.cross_entropy:CrossEntropy",
        summary="Softmax cross-entropy on logits, optional label smoothing (ch. 2.4)",
    )
    register("hinge", f"{HERE}.hinge:Hinge", summary="Multi-class (Weston-Watkins) hinge loss on logits (ch. 2.4)")
    register("kl", f"{HERE}.kl:KLDivergence", summary="KL(target distribution || softmax(logits)) (ch. 2.4)")


@dpzoo.hookimpl
def dpzoo_register_metrics(register):
    register("accuracy", f"{HERE}.metrics:Accuracy", summary="Fraction of examples whose arg max is the target class")
    register(
        "error_rate", f"{HERE}.metrics:ErrorRate", summary="Fraction of examples whose arg max is not the target class"
    )
    register("nll", f"{HERE}.metrics:NLL", summary="Negative log-likelihood of the target class, in nats")
