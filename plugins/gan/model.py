"""A deep convolutional GAN (chapter 14.3) trained through the trainer's manual step.

Each batch of real images x (pixels in [0, 1], fed to the discriminator as
2x - 1 to match the generator's tanh range) makes one generator update after
``discriminator_steps`` discriminator updates, each on fresh noise
z ~ N(0, I):

    discriminator:  minimise L_D = E[softplus(-d(x))] + E[softplus(d(G(z)))]
    generator:      minimise L_G = E[softplus(-d(G(z)))]   (non-saturating)
                          or L_G = -E[softplus(d(G(z)))]   (minimax)

(see ``losses.py``). The discriminator sees fakes made without a graph to
the generator, so its phase touches only its own parameters; the generator's
phase back-propagates through d into G, and the trainer's ``ctx.optimise``
steps only the generator's optimiser (Adam, lr 2e-4, beta_1 0.5 by default,
as Radford et al. found stable).

``model(batch)`` and ``sample(n)`` return generated images in [0, 1], the
scale of the data, so a classifier trained on the data can score them
(``frechet_distance``, ``inception_score``). In evaluation mode the noise comes
from a generator seeded with ``eval_seed`` and restarted each time the model
enters evaluation mode, so every evaluation of a split scores the same samples
and a published card's scores re-evaluate exactly.

With ``generator_ema`` = beta > 0 the model also keeps an exponential moving
average of the generator's weights (Polyak averaging over the iterates),

    theta_ema <- beta * theta_ema + (1 - beta) * theta     after each generator step,

and ``model(batch)``, ``sample(n)`` and the sample grid generate with it. The
adversarial game makes the generator's iterates circle around a good point
rather than settle on it; their average sits nearer the point (Yazıcı et al.
2019), so it scores better for no extra training. Training itself never uses
the average. Its batch norms cannot use the generator's running statistics,
nor their average: those describe other weights' activations (on MNIST, two
epochs in, the averaged statistics gave a Fréchet distance of 1165 where
statistics recomputed for the averaged weights gave 340). So the average
generates with statistics recomputed from its own activations on
``CALIBRATION_SAMPLES`` fixed noise draws, again whenever its weights change.
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar

import torch
from pydantic import Field
from torch import Tensor

import dpzoo

from .losses import GeneratorLoss, discriminator_loss, generator_loss
from .networks import Discriminator, Generator, dcgan_init

ADAM = {"name": "adam", "lr": 2e-4, "betas": [0.5, 0.999]}
CALIBRATION_SAMPLES, CALIBRATION_BATCH = 2048, 512  # noise draws the average's batch-norm statistics are measured on


def process_share() -> tuple[int, int]:
    """(rank, world size) of a data-parallel run (torchrun); (0, 1) otherwise."""
    distributed = torch.distributed
    if distributed.is_available() and distributed.is_initialized():
        return distributed.get_rank(), distributed.get_world_size()
    return 0, 1


class DCGANConfig(dpzoo.Config):
    input_shape: list[int] | None = Field(
        None, description="Image shape [channels, height, width]; read from the data when unset"
    )
    latent_dim: int = Field(32, ge=1, description="Size n of the latent z ~ N(0, I)")
    width: int = Field(
        32, ge=1, description="Channels of the discriminator's first layer and the generator's last hidden one"
    )
    stages: int = Field(
        2, ge=2, description="Stride-2 layers in each network; the image side must be a multiple of 2**stages"
    )
    base_layers: int = Field(
        0,
        ge=0,
        description="Extra 3x3 stride-1 convolutions (batch norm, activation) at the smallest resolution of both the generator and the discriminator",
    )
    batch_norm: bool = Field(
        True,
        description="Batch norm in both networks (the guidelines); false: a data-parallel run then equals one process exactly",
    )
    generator_loss: GeneratorLoss = Field(
        "non_saturating", description="non_saturating: -log D(G(z)); minimax: log(1 - D(G(z)))"
    )
    discriminator_steps: int = Field(
        1, ge=1, description="Discriminator updates per generator update, each on fresh noise"
    )
    eval_seed: int = Field(0, description="Seed of the noise for evaluation and for the fixed-noise sample grid")
    grid_samples: int = Field(64, ge=1, description="Images in the fixed-noise sample grid logged as media")
    generator_ema: float = Field(
        0.0, ge=0.0, lt=1.0, description="Decay of a moving average of the generator's weights that samples use; 0: off"
    )


class DCGAN(dpzoo.Model):
    """Generator g(z) and discriminator d(x), two optimisers, one manual training step."""

    Config = DCGANConfig
    default_loss = None  # manual mode: training_step makes its own losses
    default_metrics = ("frechet_distance", "inception_score")
    default_optimisers: ClassVar[dict[str, dict[str, Any]]] = {"discriminator": ADAM, "generator": ADAM}

    def __init__(self, config: DCGANConfig | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        c = self.config
        if c.input_shape is None:
            raise dpzoo.ConfigError(
                "model 'dcgan' needs input_shape: set it (input_shape=[1, 28, 28]) or train with --data so it is read from the data"
            )
        shape = list(c.input_shape)
        side = shape[-1]
        if len(shape) != 3 or shape[1] != side or side % 2**c.stages or side < 2**c.stages:
            raise dpzoo.ConfigError(
                f"model 'dcgan': input_shape must be [channels, side, side] with side a multiple of 2**stages = "
                f"{2**c.stages}, got {c.input_shape}; change model.stages (8x8 and 28x28 images take stages=2)"
            )
        self.image_shape: tuple[int, int, int] = tuple(shape)
        self.generator = Generator(c.latent_dim, self.image_shape, c.width, c.stages, c.batch_norm, c.base_layers)
        self.discriminator = Discriminator(self.image_shape, c.width, c.stages, c.batch_norm, c.base_layers)
        self.apply(dcgan_init)
        if c.generator_ema > 0:  # no parameter group holds it: only ``update_average`` changes it
            self.generator_average = copy.deepcopy(self.generator).requires_grad_(False).eval()
        self._calibration: tuple[tuple, dict[str, Tensor]] | None = (
            None  # (the average's weights' identity, statistics)
        )
        self._eval_noise = torch.Generator().manual_seed(c.eval_seed)
        # the discriminator steps k times per batch: its learning-rate schedules are sized in its own steps
        self.optimiser_steps_per_batch = {"discriminator": c.discriminator_steps, "generator": 1}

    # -- the two players ---------------------------------------------------------------
    def parameter_groups(self) -> dict[str, list[torch.nn.Parameter]]:
        return {"discriminator": list(self.discriminator.parameters()), "generator": list(self.generator.parameters())}

    def training_step(self, batch, ctx) -> None:
        x = 2 * self.inputs(batch) - 1  # [0, 1] -> the generator's [-1, 1]
        n = x.shape[0]
        for _ in range(self.config.discriminator_steps):
            with ctx.autocast():  # forwards under the run's precision; backward (in optimise) outside
                with torch.no_grad():  # fakes without a graph: this phase reaches only d's parameters
                    fake = self.generator(self.noise(n, x.device))
                loss_d = discriminator_loss(self.discriminator(x), self.discriminator(fake))
            ctx.optimise("discriminator", loss_d)
            ctx.log("discriminator_loss", loss_d.detach())
        with ctx.autocast():
            fake_logits = self.discriminator(self.generator(self.noise(n, x.device)))
            loss_g = generator_loss(fake_logits, self.config.generator_loss)
        ctx.optimise("generator", loss_g)
        self.update_average()
        ctx.log("generator_loss", loss_g.detach())
        ctx.log("D_of_G_z", torch.sigmoid(fake_logits.detach()).mean())

    @torch.no_grad()
    def update_average(self) -> None:
        """theta_ema <- beta theta_ema + (1 - beta) theta, after each generator step.

        Buffers are averaged alike and kept in the state dict, but generating never reads
        them: it uses ``average_statistics()``.
        """
        if self.config.generator_ema == 0:
            return
        beta = self.config.generator_ema
        average = dict(self.generator_average.named_parameters()) | dict(self.generator_average.named_buffers())
        current = dict(self.generator.named_parameters()) | dict(self.generator.named_buffers())
        for name, value in current.items():
            if value.is_floating_point():
                average[name].lerp_(value, 1 - beta)
            else:
                average[name].copy_(value)

    @property
    def sampler(self) -> torch.nn.Module:
        """The network that generates images: the weight average when the model keeps one, else the generator."""
        return self.generator_average if self.config.generator_ema > 0 else self.generator

    @torch.no_grad()
    def average_statistics(self) -> dict[str, Tensor]:
        """Batch-norm statistics of the averaged weights' own activations on seeded noise, cached until they change.

        The cache is keyed by each weight's storage and in-place version counter, so an
        update, a ``load_state_dict`` or a move to another device measures them again.
        """
        average = self.generator_average
        key = tuple((p.data_ptr(), p._version) for p in average.parameters())
        if self._calibration is None or self._calibration[0] != key:
            probe = copy.deepcopy(average).train()
            for module in probe.modules():
                if isinstance(module, torch.nn.BatchNorm2d):
                    module.reset_running_stats()
                    module.momentum = None  # a plain average over the calibration batches
            draws, device = torch.Generator().manual_seed(self.config.eval_seed), next(average.parameters()).device
            for _ in range(CALIBRATION_SAMPLES // CALIBRATION_BATCH):
                probe(self.noise(CALIBRATION_BATCH, device, draws))
            self._calibration = (key, dict(probe.named_buffers()))
        return self._calibration[1]

    # -- generating ----------------------------------------------------------------------
    def noise(
        self, n: int, device: torch.device | str | None = None, generator: torch.Generator | None = None
    ) -> Tensor:
        """z ~ N(0, I), [n, latent_dim]; drawn on the CPU from ``generator`` when given (device-independent)."""
        if generator is None:
            rank, world_size = process_share()
            if world_size > 1:  # every process draws the global batch's noise and keeps its own share:
                # different z on each process, and together the draw of one process with the whole batch
                return torch.randn(n * world_size, self.config.latent_dim, device=device)[rank * n : (rank + 1) * n]
            return torch.randn(n, self.config.latent_dim, device=device)
        return torch.randn(n, self.config.latent_dim, generator=generator).to(device)

    def generate(self, z: Tensor) -> Tensor:
        """Images in [0, 1], [n, C, H, W], from latents z (through ``sampler``)."""
        if self.config.generator_ema > 0:  # always in evaluation mode, on its own statistics
            return (torch.func.functional_call(self.generator_average, self.average_statistics(), (z,)) + 1) / 2
        return (self.generator(z) + 1) / 2

    def forward(self, batch) -> Tensor:
        """As many generated images as ``batch`` holds real ones (for scores against the real split)."""
        n = len(self.inputs(batch))
        device = next(self.parameters()).device
        if self.training:
            return self.generate(self.noise(n, device))
        return self.generate(self.noise(n, device, self._eval_noise))

    @torch.no_grad()
    def sample(self, n: int, seed: int | None = None) -> Tensor:
        """n images in [0, 1], [n, C, H, W], from the batch-norm running statistics; ``seed`` fixes z."""
        sampler = self.sampler
        was_training = sampler.training
        sampler.eval()
        try:
            generator = torch.Generator().manual_seed(seed) if seed is not None else None
            return self.generate(self.noise(n, next(self.parameters()).device, generator))
        finally:
            sampler.train(was_training)

    def train(self, mode: bool = True):
        if not mode:  # each evaluation starts the same noise again
            self._eval_noise = torch.Generator().manual_seed(self.config.eval_seed)
        super().train(mode)
        if self.config.generator_ema > 0:  # the average only ever generates
            self.generator_average.eval()
        return self

    # -- media ----------------------------------------------------------------------------------
    @torch.no_grad()
    def log_media(self, ctx) -> None:
        """The same grid of samples (fixed z) after each epoch: watch one set of digits take shape."""
        from dpzoo.media import image_grid, upscale

        images = self.sample(self.config.grid_samples, seed=self.config.eval_seed)
        grid = image_grid(images)
        ctx.log_image("samples", upscale(grid, max(1, 64 // self.image_shape[-1])))
