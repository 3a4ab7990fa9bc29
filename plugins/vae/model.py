"""The variational autoencoder (chapter 14.2; reparameterisation, chapter 9.3).

Generative model: z ~ p(z) = N(0, I) in R^d, then x ~ p(x|z) = p(x; g_theta(z)),
a Bernoulli with logits g_theta(z) for binary x, or a Gaussian with mean
g_theta(z) and a learned per-pixel variance for real x. The encoder outputs
the statistics of the approximate posterior q_phi(z|x) = N(mu, diag(sigma^2))
(as mu and logvar = log sigma^2; an MLP, or stride-2 convolutions). Training
maximises the ELBO (``elbo.py``)

    log p(x) >= E_{z ~ q(z|x)} log p(x|z) - KL(q(z|x) || p(z)),

with z = mu + sigma * eps, eps ~ N(0, I), so gradients reach phi through the
sample. The KL is the closed form or its Monte-Carlo estimate
log q(z|x) - log p(z) (``model.kl``). The trainer's schedule named ``beta``
(``--set trainer.schedules.beta.kind=linear ...``) sets ``self.beta``, the KL's
weight while training (warm-up); evaluation always uses beta = 1.

Evaluation is deterministic: the noise eps comes from a generator seeded
with ``eval_seed`` at every forward, so a re-evaluation reproduces a model
card's figures. With ``iw_samples`` = k > 0 the evaluation output also holds
the importance log weights log w_j = log p(x|z_j) + log p(z_j) - log q(z_j|x)
of k samples, [N, k], for the ``iw_nll`` metric (``metrics.py``).

``encode(x) -> (mu, logvar)``, ``decode(z)`` -> the mean of p(x|z) (pixel
probabilities for a Bernoulli decoder), ``sample(n)`` = decode(z), z ~ N(0, I).
"""

from __future__ import annotations

import contextlib
from typing import ClassVar, Literal

import torch
from pydantic import Field
from torch import Tensor, nn

import dpzoo
from dpzoo.plugins.autoencoders.checks import check_unit_interval
from dpzoo.plugins.autoencoders.networks import ConvDecoder, ConvEncoder, MLPDecoder, MLPEncoder, image_shape

from . import gaussian, media
from .likelihood import negative_log_likelihood

ROWS_PER_CHUNK = 16384  # decoder rows per chunk of importance samples: bounds memory at any k


class VAEConfig(dpzoo.Config):
    input_shape: list[int] | None = Field(
        None, description="Shape of one example [C, H, W]; read from the data when unset"
    )
    latent: int = Field(8, ge=1, description="Dimension d of the latent z")
    encoder: Literal["mlp", "conv"] = Field(
        "mlp", description="Encoder and decoder: fully connected or (transposed) convolutions"
    )
    hidden: list[int] = Field([256], description="MLP hidden widths of the encoder; the decoder mirrors them")
    channels: list[int] = Field(
        [32, 64], min_length=1, description="Conv channels of each stride-2 stage; the decoder mirrors them"
    )
    decoder: Literal["bernoulli", "gaussian"] = Field(
        "bernoulli", description="p(x|z): Bernoulli for binary x in [0, 1], Gaussian for real x"
    )
    kl: Literal["analytic", "monte_carlo"] = Field(
        "analytic", description="KL(q || p) in closed form or as log q(z|x) - log p(z) at the sample"
    )
    iw_samples: int = Field(
        100, ge=0, description="Importance samples k per example in evaluation, for metric iw_nll (0: off)"
    )
    eval_seed: int = Field(0, description="Seed of the noise drawn in evaluation (re-evaluations repeat exactly)")
    min_logvar: float = Field(
        -9.0, description="Floor of the Gaussian decoder's log-variance (keeps log p(x|z) bounded)"
    )


class VAE(dpzoo.Model):
    """Gaussian-encoder VAE with a Bernoulli or Gaussian decoder; ``sample(n)`` draws from the model."""

    Config = VAEConfig
    registered_name: ClassVar[str] = "vae"  # for error messages
    default_loss = "elbo"
    default_metrics = ("neg_elbo", "iw_nll")
    # beta = 1 (the plain ELBO) unless the run says otherwise; end = 1 so that
    # `--set trainer.schedules.beta.kind=warmup --set trainer.schedules.beta.steps=N` ramps 0 -> 1.
    default_schedules: ClassVar[dict[str, dict]] = {"beta": {"kind": "constant", "start": 1.0, "end": 1.0}}

    def __init__(self, config: VAEConfig | None = None, **overrides):
        super().__init__(config, **overrides)
        c = self.config
        self.shape = image_shape(c.input_shape, self.registered_name)
        if c.encoder == "conv":
            if len(self.shape) != 3:
                raise dpzoo.ConfigError(f"model.encoder=conv needs images [C, H, W], got input_shape {c.input_shape}")
            self.encoder = ConvEncoder(self.shape, c.channels, 2 * c.latent)
            self.decoder = ConvDecoder(c.latent, c.channels, self.shape)
        else:
            self.encoder = MLPEncoder(self.shape, c.hidden, 2 * c.latent)
            self.decoder = MLPDecoder(c.latent, c.hidden, self.shape)
        if c.decoder == "gaussian":
            self.x_logvar = nn.Parameter(torch.zeros(self.shape))  # log s^2 per pixel, shared by all z
        if not c.iw_samples:
            self.default_metrics = ("neg_elbo",)
        self.importance_samples = c.iw_samples  # k drawn in evaluation; 0 while media are drawn
        self.beta = 1.0  # KL weight in training; set each step by the trainer's schedule named 'beta'
        self._checked = False

    # -- the two halves -------------------------------------------------------------
    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(mu, logvar) of q(z|x), each [N, d]."""
        mu, logvar = self.encoder(x).chunk(2, dim=-1)
        return mu, logvar

    def decoder_parameters(self, z: Tensor) -> dict[str, Tensor]:
        """p(x|z)'s parameters under the keys ``likelihood`` reads."""
        out = self.decoder(z)
        if self.config.decoder == "bernoulli":
            return {"x_logits": out}
        return {"x_mean": out, "x_logvar": self.x_logvar.clamp_min(self.config.min_logvar).expand_as(out)}

    def decode(self, z: Tensor) -> Tensor:
        """The mean of p(x|z): pixel probabilities sigmoid(logits), or the Gaussian's mean."""
        params = self.decoder_parameters(z)
        return torch.sigmoid(params["x_logits"]) if "x_logits" in params else params["x_mean"]

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n draws of the decoder's mean at z ~ N(0, I), [n, *input_shape]."""
        device = next(self.parameters()).device
        return self.decode(torch.randn(n, self.config.latent, generator=generator, device=device))

    # -- training and evaluation -----------------------------------------------------------
    def forward(self, batch) -> dict[str, Tensor]:
        x = self.inputs(batch)
        if not self._checked:
            if self.config.decoder == "bernoulli":
                check_unit_interval(x, "model.decoder=bernoulli", "model.decoder=gaussian")
            self._checked = True
        mu, logvar = self.encode(x)
        generator = None if self.training else self._eval_generator(x.device)
        z = gaussian.reparameterise(mu, logvar, self._noise(mu, generator))
        if self.config.kl == "analytic":
            kl = gaussian.kl_analytic(mu, logvar)
        else:
            kl = gaussian.kl_monte_carlo(z, mu, logvar)
        out = {"mu": mu, "logvar": logvar, "z": z, "kl": kl, **self.decoder_parameters(z)}
        if self.training:
            out["beta"] = torch.as_tensor(self.beta, dtype=mu.dtype, device=mu.device)
        elif self.importance_samples:
            out["log_w"] = self.log_weights(x, self.importance_samples, mu, logvar, generator)
        return out

    def log_weights(
        self, x: Tensor, k: int, mu: Tensor | None = None, logvar: Tensor | None = None, generator=None
    ) -> Tensor:
        """log w_j = log p(x|z_j) + log p(z_j) - log q(z_j|x) for k draws z_j ~ q(z|x), [N, k]."""
        if mu is None or logvar is None:
            mu, logvar = self.encode(x)
        n = x.shape[0]
        chunk = max(1, ROWS_PER_CHUNK // n)
        columns = []
        for start in range(0, k, chunk):
            s = min(chunk, k - start)
            eps = self._noise(mu.expand(s, *mu.shape), generator)  # [s, N, d]
            z = gaussian.reparameterise(mu, logvar, eps)
            params = self.decoder_parameters(z.reshape(s * n, -1))
            x_rep = x.expand(s, *x.shape).reshape(s * n, *x.shape[1:])
            log_px = -negative_log_likelihood(params, x_rep).reshape(s, n)
            columns.append(log_px + gaussian.log_normal(z) - gaussian.log_normal(z, mu, logvar))
        return torch.cat(columns).T

    @contextlib.contextmanager
    def importance_sampling(self, on: bool):
        """Within the block, evaluation draws k = iw_samples importance samples (on) or none (off)."""
        before, self.importance_samples = self.importance_samples, self.config.iw_samples if on else 0
        try:
            yield
        finally:
            self.importance_samples = before

    def _eval_generator(self, device: torch.device) -> torch.Generator:
        return torch.Generator(device=device).manual_seed(self.config.eval_seed)

    @staticmethod
    def _noise(like: Tensor, generator: torch.Generator | None) -> Tensor:
        if generator is None:
            return torch.randn_like(like)
        return torch.randn(like.shape, generator=generator, device=like.device, dtype=like.dtype)

    # -- TensorBoard -------------------------------------------------------------------------
    def log_media(self, ctx) -> None:
        """Inputs over reconstructions, prior samples; with d = 2 the decoded grid and the test codes."""
        media.log_vae_media(self, ctx)


class VAE2dConfig(VAEConfig):
    latent: int = Field(
        2, ge=1, description="Dimension d of the latent z; 2 draws the decoded grid and the code scatter"
    )


class VAE2d(VAE):
    """The VAE with a 2-d latent by default: its whole latent space can be drawn (chapter 14.2's figures)."""

    Config = VAE2dConfig
    registered_name = "vae2d"
