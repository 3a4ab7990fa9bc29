"""TensorBoard images for set prediction (chapter 16): predicted vs target sets, and DSPN's inner loop.

``media/sets``: one scatter plot per validation example, the target's points
in blue and the predicted slots whose presence exceeds 1/2 in orange.
``media/inner_loop`` (DSPN): the first example's set at every inner step,
from the learned initial set (left) to the output (right), each over the
target; it shows the set being found by gradient descent.
"""

from __future__ import annotations

import torch
from torch import Tensor

from dpzoo.media import image_grid, scatter_image

TARGET, PREDICTED = 0, 1  # colours: the palette's blue and orange


def overlay(target: Tensor, predicted: Tensor, size: int) -> Tensor:
    """One scatter image of two point sets [n, 2] and [k, 2], on any device (drawn on the CPU)."""
    points = torch.cat([target.detach().cpu(), predicted.detach().cpu()])
    labels = torch.cat([torch.full((len(target),), TARGET), torch.full((len(predicted),), PREDICTED)])
    return scatter_image(points, labels, size=size)


def log_set_media(model, ctx, examples: int, size: int = 96) -> None:
    """Log ``media/sets`` for the first ``examples`` validation sets, and ``media/inner_loop`` if there is a trajectory."""
    if examples == 0:
        return
    output, x = ctx.predict("validation", target="x")
    if x is None:
        return
    k = min(examples, len(x))
    target_mask, mask = output["input_mask"][:k] > 0, output["mask"][:k] > 0.5
    sets = [overlay(x[i][target_mask[i]], output["set"][i][mask[i]], size) for i in range(k)]
    ctx.log_image("media/sets", image_grid(torch.stack(sets)))
    if "trajectory" in output:
        steps = [
            model.initial_set.detach()[model.initial_mask.detach() > 0.5],
            *(Y[m > 0.5] for Y, m in zip(output["trajectory"][0], output["trajectory_mask"][0])),
        ]
        frames = [overlay(x[0][target_mask[0]], Y, size) for Y in steps]
        ctx.log_image("media/inner_loop", image_grid(torch.stack(frames), nrow=len(frames)))
