"""A VAE's TensorBoard images, built with ``dpzoo.media`` (chapter 14.2's figures).

* ``media/reconstructions``: 8 validation inputs (top row) over the decoder's
  mean at z = mu (bottom row);
* ``media/samples``: 64 draws of decode(z), z ~ N(0, I), the same z at every
  epoch (seeded with ``eval_seed``) so the epochs compare;
* with a 2-d latent, ``media/latent_grid``: decode(z) on a 15 x 15 grid over
  [-3, 3]^2 (z_1 left to right, z_2 bottom to top), and ``media/test_codes``:
  the test set's posterior means mu as a scatter coloured by digit.
"""

from __future__ import annotations

import torch
from torch import Tensor

from dpzoo.media import image_grid, scatter_image, upscale

GRID_SIDE, GRID_RANGE = 15, 3.0
SMALL = 16  # images under this side are enlarged so they stay visible


def latent_grid(side: int = GRID_SIDE, extent: float = GRID_RANGE) -> Tensor:
    """[side^2, 2] points of a square grid over [-extent, extent]^2, row by row from the top (z_2 = +extent)."""
    values = torch.linspace(-extent, extent, side)
    z2, z1 = torch.meshgrid(values.flip(0), values, indexing="ij")
    return torch.stack([z1.reshape(-1), z2.reshape(-1)], dim=1)


def _grid(images: Tensor, nrow: int) -> Tensor:
    grid = image_grid(images.detach().float().clamp(0, 1).cpu(), nrow=nrow)
    return upscale(grid, 4) if images.shape[-1] < SMALL else grid


@torch.no_grad()
def log_vae_media(model, ctx) -> None:
    if len(model.shape) != 3:
        return  # not images
    with model.importance_sampling(False):  # media need one pass, not k importance samples per example
        _log_vae_media(model, ctx)


def _log_vae_media(model, ctx) -> None:
    device = next(model.parameters()).device
    _, x = ctx.predict("validation", target="x")
    x = x[:8]
    mu, _ = model.encode(x)
    ctx.log_image("media/reconstructions", _grid(torch.cat([x, model.decode(mu)]), nrow=len(x)))
    generator = torch.Generator(device=device).manual_seed(model.config.eval_seed)
    ctx.log_image("media/samples", _grid(model.sample(64, generator), nrow=8))
    if model.config.latent != 2:
        return
    ctx.log_image("media/latent_grid", _grid(model.decode(latent_grid().to(device)), nrow=GRID_SIDE))
    outputs, labels = ctx.predict("test", target="y")
    ctx.log_image("media/test_codes", scatter_image(outputs["mu"].cpu(), labels.cpu()))
