"""The Inception-style score of generated images under a zoo classifier.

With p(y|x) the classifier's softmax for a generated x and p(y) = E_x[p(y|x)]
its average over the set,

    IS = exp(E_x[KL(p(y|x) || p(y))])
       = exp(E_x[sum_y p(y|x) log p(y|x)] - sum_y p(y) log p(y)),

high when each image is confidently one class (low conditional entropy) and
the classes are used evenly (high marginal entropy); it lies between 1 and
the number of classes K. The second form needs only running sums, so the
metric accumulates over a whole split in one pass. (Salimans et al. average
the score over 10 splits of the set; one set is used here.)
"""

from __future__ import annotations

import math

import torch
from pydantic import Field

import dpzoo

from .classifier import classifier_for, features_and_logits, load_classifier
from .frechet import generated_images


def inception_score(probabilities: torch.Tensor) -> float:
    """exp(E_x KL(p(y|x) || p(y))) for a set of class distributions [N, K], computed directly in float64."""
    p = probabilities.double()
    marginal = p.mean(dim=0, keepdim=True)
    kl = (p * (p.clamp_min(1e-300).log() - marginal.clamp_min(1e-300).log())).sum(dim=1)
    return math.exp(float(kl.mean()))


class InceptionScoreConfig(dpzoo.Config):
    classifier: str | None = Field(
        None,
        description="Zoo classifier giving p(y|x); default by image side (cnn.digits, cnn.mnist.scorer; pinned weights)",
    )


class InceptionScore(dpzoo.Metric):
    """exp(E_x KL(p(y|x) || p(y))) over the generated images of a split (higher is better, at most K)."""

    Config = InceptionScoreConfig
    higher_is_better = True

    def __init__(self, config: InceptionScoreConfig | None = None) -> None:
        super().__init__(config)
        self.reset()

    def reset(self) -> None:
        self.n = 0
        self.negative_entropy = 0.0  # sum over x of sum_y p(y|x) log p(y|x)
        self.total = None  # sum over x of p(y|x)

    def update(self, output, batch) -> None:
        fake = generated_images(output)
        classifier = load_classifier(classifier_for(fake, self.config.classifier)).to(fake.device)
        log_p = torch.log_softmax(features_and_logits(classifier, fake)[1].double(), dim=-1)
        p = log_p.exp()
        self.negative_entropy = self.negative_entropy + (p * log_p).sum()  # stays on the device: no sync per batch
        self.total = p.sum(dim=0) if self.total is None else self.total + p.sum(dim=0)
        self.n += p.shape[0]

    def compute(self) -> float:
        marginal = self.total / self.n
        return math.exp(float(self.negative_entropy / self.n - (marginal * marginal.clamp_min(1e-300).log()).sum()))
