"""Registers the relaxations of chapter 9. Imports nothing heavy: each loads on first use."""

import dpzoo

HERE = "dpzoo.plugins.relaxations"


@dpzoo.hookimpl
def dpzoo_register_relaxations(register):
    register("softmax", f"{HERE}.argmax:Softmax", summary="softmax(x/tau), relaxing the one-hot arg max (ch. 9)")
    register(
        "soft_argmax",
        f"{HERE}.argmax:SoftArgmax",
        summary="softmax(x/tau) . [0..n-1], relaxing the arg max index (ch. 9)",
    )
    register(
        "straight_through_argmax",
        f"{HERE}.argmax:StraightThroughArgmax",
        summary="Exact one-hot arg max forwards, softmax gradient backwards (ch. 9)",
    )
    register("soft_max", f"{HERE}.maximum:SoftMax", summary="softmax(x/tau) . x, relaxing max (ch. 9)")
    register("softplus", f"{HERE}.relu:Softplus", summary="tau log(1 + exp(x/tau)), relaxing ReLU (ch. 9)")
    register("huber", f"{HERE}.absolute:Huber", summary="Smooth L1 with threshold tau, relaxing |x| (ch. 9)")
