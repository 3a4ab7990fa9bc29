"""The Fréchet distance between two sets of images in a classifier's feature space (FID-style).

Each set's features are summarised by a Gaussian with mean mu and covariance
Sigma; the Fréchet (2-Wasserstein) distance between N(mu_1, Sigma_1) and
N(mu_2, Sigma_2) is

    d^2 = |mu_1 - mu_2|^2 + tr(Sigma_1 + Sigma_2 - 2 (Sigma_1 Sigma_2)^(1/2)).

tr((Sigma_1 Sigma_2)^(1/2)) is the sum of the square roots of the eigenvalues
of Sigma_1 Sigma_2, which are those of the symmetric positive semi-definite
S = Sigma_1^(1/2) Sigma_2 Sigma_1^(1/2); computing them with ``eigvalsh`` in
float64 avoids the complex round-off of a general matrix square root.

As a metric, the generated images are the model's output and the real ones
the batch's ``x``; sums of features and of their outer products accumulate
over the whole split, and ``compute`` returns d^2 (lower is better).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from pydantic import Field
from torch import Tensor

import dpzoo

from .classifier import classifier_for, features_and_logits, load_classifier


def psd_sqrt(matrix: Tensor) -> Tensor:
    """The symmetric square root of a symmetric positive semi-definite matrix."""
    eigenvalues, vectors = torch.linalg.eigh(matrix)
    return (vectors * eigenvalues.clamp_min(0).sqrt()) @ vectors.T


def frechet_distance(mu_1: Tensor, sigma_1: Tensor, mu_2: Tensor, sigma_2: Tensor) -> float:
    """|mu_1 - mu_2|^2 + tr(Sigma_1 + Sigma_2 - 2 (Sigma_1 Sigma_2)^(1/2)), in float64."""
    mu_1, mu_2, sigma_1, sigma_2 = (t.double() for t in (mu_1, mu_2, sigma_1, sigma_2))
    root = psd_sqrt(sigma_1)
    cross = torch.linalg.eigvalsh(root @ sigma_2 @ root).clamp_min(0).sqrt().sum()
    return float((mu_1 - mu_2).square().sum() + torch.trace(sigma_1) + torch.trace(sigma_2) - 2 * cross)


class Moments:
    """Running sums for a set's mean and (unbiased) covariance, in float64."""

    def __init__(self) -> None:
        self.n, self.total, self.outer = 0, None, None

    def add(self, features: Tensor) -> None:
        f = features.detach().double()
        total, outer = f.sum(dim=0), f.T @ f
        self.total = total if self.total is None else self.total + total
        self.outer = outer if self.outer is None else self.outer + outer
        self.n += f.shape[0]

    def mean_and_covariance(self) -> tuple[Tensor, Tensor]:
        if self.n < 2:
            raise ValueError(f"a covariance needs at least 2 examples, got {self.n}")
        mu = self.total / self.n
        return mu, (self.outer - self.n * torch.outer(mu, mu)) / (self.n - 1)


def generated_images(output) -> Tensor:
    """The generated images of a model's output: the tensor itself, or its ``samples`` entry."""
    if isinstance(output, Mapping):
        if "samples" not in output:
            raise dpzoo.ConfigError(
                f"a generative score needs images: the output has no 'samples' key (keys: {sorted(output)})"
            )
        return output["samples"]
    return output


class FrechetConfig(dpzoo.Config):
    classifier: str | None = Field(
        None,
        description="Zoo classifier whose features are compared; default by image side (cnn.digits, cnn.mnist.scorer; pinned weights)",
    )
    real: str = Field("x", description="Batch key of the real images")


class FrechetDistance(dpzoo.Metric):
    """d^2 between the Gaussians of generated and real images' classifier features (lower is better)."""

    Config = FrechetConfig
    higher_is_better = False

    def __init__(self, config: FrechetConfig | None = None) -> None:
        super().__init__(config)
        self.reset()

    def reset(self) -> None:
        self.generated, self.real = Moments(), Moments()

    def update(self, output, batch) -> None:
        fake = generated_images(output)
        classifier = load_classifier(classifier_for(fake, self.config.classifier)).to(fake.device)
        self.generated.add(features_and_logits(classifier, fake)[0])
        self.real.add(features_and_logits(classifier, batch[self.config.real])[0])

    def compute(self) -> float:
        return frechet_distance(*self.generated.mean_and_covariance(), *self.real.mean_and_covariance())
