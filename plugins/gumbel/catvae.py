"""A VAE with categorical latents (chapters 9 and 14), to measure the estimators.

The model of the Gumbel-softmax paper's comparison (Jang, Gu and Poole, 2017).

The encoder maps a binary image x to logits l_1, ..., l_N of N independent
categoricals over K classes, q(z_n | x) = Cat(softmax(l_n));
the decoder maps the N one-hot vectors z = [z_1; ...; z_N] to Bernoulli logits
over the pixels, p(x | z). With the uniform prior p(z_n) = 1/K, the negative
ELBO of one image, in nats, is

    -ELBO = -E_q[log p(x | z)] + sum_n KL(q(z_n | x) || U(K)),
    KL(q || U(K)) = sum_k q_k log(K q_k).

The KL is exact; the expected reconstruction term is estimated from one sample
z per image (both through the ``vae`` plugin's ``elbo``: the model's output
holds the decoder's ``x_logits`` and the per-example ``kl``, so the loss
``elbo`` and the metric ``neg_elbo`` read it as they read the Gaussian VAE's),
and its gradient with respect to the encoder needs an estimator,
chosen by ``estimator``: ``gumbel`` (relaxed samples, tau from the schedule
named ``temperature``), ``st_gumbel`` (exact samples, relaxed gradient) or
``reinforce`` (exact samples, score-function gradient with an optional baseline).

Evaluation always decodes exact samples z ~ q(z | x), so every estimator is
scored by the same bound on the same discrete model; their noise comes from a
generator seeded with ``eval_seed``, so a model's test negative ELBO is the same
every time it is evaluated.
"""

from __future__ import annotations

import math
from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

import dpzoo
from dpzoo.plugins.autoencoders.checks import check_unit_interval
from dpzoo.plugins.vae.elbo import negative_elbo

from .estimator import Estimator
from .gumbel_softmax import GumbelSoftmax, StraightThroughGumbelSoftmax
from .noise import sample_one_hot
from .reinforce import Reinforce, ReinforceConfig, categorical_log_prob

ESTIMATORS: dict[str, type[Estimator]] = {
    "gumbel": GumbelSoftmax,
    "st_gumbel": StraightThroughGumbelSoftmax,
    "reinforce": Reinforce,
}


class CategoricalVAEConfig(dpzoo.Config):
    input_shape: list[int] | None = Field(None, description="Shape of one image; read from the data when unset")
    latents: int = Field(20, ge=1, description="N, the number of categorical latent variables")
    categories: int = Field(10, ge=2, description="K, the classes of each latent (a categorical needs K >= 2)")
    hidden: list[int] = Field([512, 256], description="Encoder widths; the decoder mirrors them")
    estimator: Literal["gumbel", "st_gumbel", "reinforce"] = Field(
        "gumbel", description="Gradient estimator for the samples: gumbel, st_gumbel or reinforce"
    )
    tau: float = Field(
        1.0,
        gt=0.0,
        description="Temperature tau outside the trainer; in training the schedule named temperature sets it",
    )
    baseline: bool = Field(True, description="reinforce only: subtract a moving-average baseline from the loss")
    decay: float = Field(0.99, ge=0.0, lt=1.0, description="reinforce only: the baseline's moving-average decay")
    eval_seed: int = Field(0, description="Seed of the samples z drawn in evaluation")


def mlp(widths: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip(widths, widths[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers[:-1])  # the last layer is affine: it outputs logits


def kl_to_uniform(logits: Tensor) -> Tensor:
    """sum over latents of KL(softmax(logits_n) || U(K)) = sum_k q_k log(K q_k), per example."""
    log_q = torch.log_softmax(logits, dim=-1)
    return (log_q.exp() * (log_q + math.log(logits.shape[-1]))).sum(dim=(-2, -1))


SMALL = 16  # images narrower than this are enlarged in TensorBoard so they stay visible


def _grid(images: Tensor, nrow: int) -> Tensor:
    from dpzoo.media import image_grid, upscale

    grid = image_grid(images, nrow=nrow)
    return upscale(grid, 4) if images.shape[-1] < SMALL else grid


class CategoricalVAE(dpzoo.Model):
    """Categorical VAE: MLP encoder to N x K logits, a sample z, MLP decoder to Bernoulli logits."""

    Config = CategoricalVAEConfig
    default_loss: ClassVar[str] = (
        "elbo"  # evaluation: the true negative ELBO and its terms (training uses training_step)
    )
    default_metrics: ClassVar[tuple[str, ...]] = ("neg_elbo",)
    # The Gumbel-softmax paper's annealing, tau = max(0.5, exp(-r t)) updated every 500 steps
    # (r = 1e-4 of its two rates): tau reaches the floor after about 7,000 steps.
    default_schedules: ClassVar[dict[str, dict]] = {
        "temperature": {"kind": "exponential_floor", "start": 1.0, "rate": 1e-4, "floor": 0.5, "period": 500}
    }

    def __init__(self, config: CategoricalVAEConfig | None = None, **overrides):
        super().__init__(config, **overrides)
        c = self.config
        if c.input_shape is None:
            raise dpzoo.ConfigError(
                "the categorical VAE needs input_shape: set it, or train with --data so it is read from the data"
            )
        d, nk = math.prod(c.input_shape), c.latents * c.categories
        self.encoder = mlp([d, *c.hidden, nk])
        self.decoder = mlp([nk, *reversed(c.hidden), d])
        if c.estimator == "reinforce":
            options = ReinforceConfig(tau=c.tau, baseline=c.baseline, decay=c.decay)
        else:
            options = ESTIMATORS[c.estimator].Config(tau=c.tau)
        self.estimator = ESTIMATORS[c.estimator](options)
        self.temperature = c.tau  # the trainer's schedule named "temperature" overwrites it each step
        self._checked = False  # the data's range is checked once, on the first training batch

    def encode(self, x: Tensor) -> Tensor:
        """Logits of q(z | x), shaped [B, N, K]."""
        return self.encoder(x.flatten(1)).view(-1, self.config.latents, self.config.categories)

    def decode(self, z: Tensor) -> Tensor:
        """Bernoulli logits of p(x | z), flattened to [B, D]."""
        return self.decoder(z.flatten(1))

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n images' pixel probabilities sigmoid(decode(z)), z_n ~ U(K) drawn from the prior."""
        c, device = self.config, next(self.parameters()).device
        classes = torch.randint(c.categories, (n, c.latents), generator=generator, device=device)
        z = F.one_hot(classes, c.categories).to(next(self.parameters()).dtype)
        return torch.sigmoid(self.decode(z)).view(n, *c.input_shape)

    def forward(self, batch) -> dict[str, Tensor]:
        logits = self.encode(self.inputs(batch))
        if self.training:
            z = self.estimator.sample(logits, self.temperature)
        else:
            generator = torch.Generator(logits.device).manual_seed(self.config.eval_seed)
            z = sample_one_hot(logits, generator)
        return {"logits": logits, "z": z, "x_logits": self.decode(z), "kl": kl_to_uniform(logits)}

    def training_step(self, batch, ctx) -> Tensor:
        x = self.inputs(batch)
        if not self._checked:
            check_unit_interval(x, "the categorical VAE's Bernoulli decoder", "a Gaussian VAE (model vae)")
            self._checked = True
        output = self(batch)
        reconstruction, kl = negative_elbo(output, x)  # -log p(x | z) and KL, per example
        log_q = categorical_log_prob(output["logits"], output["z"].detach())
        # only the reconstruction depends on the sample: the KL is exact and differentiated directly
        loss = (self.estimator.surrogate(reconstruction, log_q) + kl).mean()
        ctx.optimise("model", dpzoo.LossOutput(loss, {"reconstruction": reconstruction.mean(), "kl": kl.mean()}))
        return loss.detach()

    @torch.no_grad()
    def log_media(self, ctx) -> None:
        """``media/reconstructions``: 8 validation images over their decoded exact samples;
        ``media/samples``: 64 draws from the prior, the same z at every epoch (seeded with ``eval_seed``)."""
        shape = self.config.input_shape
        if len(shape) != 3:
            return  # not images
        output, x = ctx.predict("validation", target="x")
        originals, reconstructions = x[:8].reshape(-1, *shape), torch.sigmoid(output["x_logits"][:8]).view(-1, *shape)
        ctx.log_image(
            "media/reconstructions", _grid(torch.cat([originals.to(reconstructions), reconstructions]), nrow=8)
        )
        generator = torch.Generator(next(self.parameters()).device).manual_seed(self.config.eval_seed)
        ctx.log_image("media/samples", _grid(self.sample(64, generator), nrow=8))


# -- the zoo's architectures: one estimator each, so that `catvae-st.mnist` names what it was trained with


def _fixed(name: str) -> type[CategoricalVAEConfig]:
    return type(
        f"CategoricalVAEConfig_{name}",
        (CategoricalVAEConfig,),
        {
            "__annotations__": {"estimator": Literal[name]},  # type: ignore[valid-type]
            "estimator": Field(
                name, description=f"Gradient estimator for the samples: {name} (fixed by this architecture)"
            ),
        },
    )


class GumbelCategoricalVAE(CategoricalVAE):
    """The categorical VAE trained with Gumbel-softmax samples."""

    Config = _fixed("gumbel")


class STCategoricalVAE(CategoricalVAE):
    """The categorical VAE trained with straight-through Gumbel-softmax samples."""

    Config = _fixed("st_gumbel")


class ReinforceCategoricalVAE(CategoricalVAE):
    """The categorical VAE trained with REINFORCE."""

    Config = _fixed("reinforce")
