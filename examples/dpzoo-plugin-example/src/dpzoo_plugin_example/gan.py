"""A tiny GAN on points in the plane: manual mode with two optimisers.

A generator G maps noise z ~ N(0, I) to a point x_hat = G(z); a critic D
scores points with a logit. With s(.) the logistic sigmoid, the critic
minimises the cross-entropy of telling real from generated,

    L_D = -log s(D(x)) - log(1 - s(D(G(z)))),

and the generator the non-saturating loss L_G = -log s(D(G(z))). Each has
its own optimiser (``parameter_groups``); ``training_step`` takes k critic
steps, then one generator step, through ``ctx.optimise``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

import dpzoo
from dpzoo import media


class TinyGANConfig(dpzoo.Config):
    input_shape: list[int] | None = Field(None, description="Shape of one point; read from the data when unset")
    noise_dim: int = Field(2, ge=1, description="Dimension of the noise z")
    hidden: int = Field(32, ge=1, description="Width of the hidden layers of G and D")
    critic_steps: int = Field(1, ge=1, description="Critic steps k per generator step")


def mlp(n_in: int, hidden: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(n_in, hidden),
        nn.LeakyReLU(0.2),
        nn.Linear(hidden, hidden),
        nn.LeakyReLU(0.2),
        nn.Linear(hidden, n_out),
    )


class TinyGAN(dpzoo.Model):
    """G: z -> x_hat, D: x -> logit; trained adversarially in manual mode."""

    Config = TinyGANConfig
    default_metrics = ()  # evaluation_step reports the values (the data's accuracy means nothing here)

    def __init__(self, config: TinyGANConfig | None = None, **overrides):
        super().__init__(config, **overrides)
        c = self.config
        dim = (c.input_shape or [2])[0]
        self.generator = mlp(c.noise_dim, c.hidden, dim)
        self.critic = mlp(dim, c.hidden, 1)
        # k critic steps per batch: learning-rate schedules are sized in each optimiser's own steps
        self.optimiser_steps_per_batch = {"critic": c.critic_steps}

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        return {"generator": list(self.generator.parameters()), "critic": list(self.critic.parameters())}

    def generate(self, n: int) -> Tensor:
        z = torch.randn(n, self.config.noise_dim, device=self.critic[0].weight.device)
        return self.generator(z)

    def forward(self, batch) -> Tensor:
        """As many generated points as the batch has real ones."""
        return self.generate(len(self.inputs(batch)))

    def critic_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        real_logits, fake_logits = self.critic(real), self.critic(fake)
        return F.binary_cross_entropy_with_logits(
            real_logits, torch.ones_like(real_logits)
        ) + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))

    def generator_loss(self, fake: Tensor) -> Tensor:
        logits = self.critic(fake)
        return F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))

    def training_step(self, batch, ctx):
        real = self.inputs(batch)
        for _ in range(self.config.critic_steps):
            critic = self.critic_loss(real, self.generate(len(real)).detach())  # G's output as data: no G gradient
            ctx.optimise("critic", critic)
        generator = self.generator_loss(self.generate(len(real)))  # reaches D too; only G's weights get gradients
        ctx.optimise("generator", generator)
        ctx.log("critic_real", torch.sigmoid(self.critic(real)).mean().detach())  # D's belief in the real points
        return {"loss": (critic + generator).detach(), "critic": critic.detach(), "generator": generator.detach()}

    def evaluation_step(self, batch, ctx) -> dict[str, Tensor]:
        real = self.inputs(batch)
        fake = self.generate(len(real))
        right = torch.cat([self.critic(real) > 0, self.critic(fake) <= 0]).float()
        return {
            "critic": self.critic_loss(real, fake),
            "generator": self.generator_loss(fake),
            "critic_accuracy": right,
        }

    def log_media(self, ctx) -> None:
        """Real validation points (first colour) and as many generated ones (second colour), in one scatter plot."""
        fake, real = ctx.predict("validation", target="x")  # forward() gives G's points; the target column x, the real
        labels = torch.cat([torch.zeros(len(real)), torch.ones(len(fake))]).long()
        ctx.log_image("media/samples", media.scatter_image(torch.cat([real, fake]), labels))
