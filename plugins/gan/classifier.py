"""The zoo classifier that scores generated images, and its penultimate features.

A generator is scored in the feature space of a classifier trained on the
same data: the zoo's ``cnn.digits`` for 8x8 digits, ``cnn.mnist.scorer`` for
28x28 MNIST (the role Inception-v3 plays for natural images). The features
are the input of the classifier's last linear layer, read with a forward
hook, so any zoo classifier that ends in ``nn.Linear`` serves.

A score means something only with the weights it was measured with (FID is
pinned to one Inception-v3 checkpoint for that reason). The default scorers
are pinned the same way, by the digest of their tensors (the card's
``weights_sha256``, re-hashed from the tensors when a scorer loads):
republishing one under its name makes every GAN score refuse to run rather
than quietly change meaning. A better classifier ships
under another name: ``cnn.mnist`` is the zoo's best MNIST classifier, a
separate entry from the scorer.
"""

from __future__ import annotations

from functools import lru_cache

import torch
from torch import Tensor, nn

import dpzoo

BY_IMAGE_SIDE = {8: "cnn.digits", 28: "cnn.mnist.scorer"}
# The tensors each default scorer must have: the weights the zoo's GAN cards were measured with.
PINNED_WEIGHTS = {
    "cnn.digits": "7aff640a266400d9001bbbea9175192168c70b9e7a9cef9830417a5e67036389",
    "cnn.mnist.scorer": "e78f004cc6f0d1f01cf33cbb62ade34aec2806d588b86faf94b6d48ff4a79071",
}


def classifier_for(images: Tensor, name: str | None = None) -> str:
    """The zoo entry that scores images like these: ``name`` when given, else by the image side."""
    if name is not None:
        return name
    side = images.shape[-1]
    if side not in BY_IMAGE_SIDE:
        raise dpzoo.ConfigError(
            f"no zoo classifier is known for {side}x{side} images (known: "
            f"{', '.join(f'{s}x{s} -> {n}' for s, n in BY_IMAGE_SIDE.items())}); set the metric's classifier option"
        )
    return BY_IMAGE_SIDE[side]


@lru_cache(maxsize=4)
def load_classifier(name: str) -> nn.Module:
    """The pretrained classifier ``name`` in evaluation mode (loaded and hash-checked once per process).

    A default scorer must hold its pinned tensors (``PINNED_WEIGHTS``); a
    classifier named by the metric's ``classifier`` option is the user's choice.
    """
    from dpzoo.pretrained import entries, loading

    pinned = PINNED_WEIGHTS.get(name)
    # rehash: the tensors themselves hashed against the card (a plain load trusts the index row's digest)
    checked = loading.verified(entries.resolve(name), rehash=True)
    if pinned is not None and (actual := checked.card.weights_sha256) != pinned:
        raise dpzoo.IntegrityError(
            f"the GAN scores read the features of {name} with tensors sha256 {pinned}, but the installed {name} "
            f"has {actual}: a republished scorer would change what every GAN card's figures mean. Publish a new "
            f"classifier under another name, or set the metric's classifier option to measure with it"
        )
    card = checked.card
    model = loading.load(checked.data, checked.header, card.arch, card.config, {})  # the bytes just hashed
    for p in model.parameters():
        p.requires_grad_(False)
    return model


@torch.no_grad()
def features_and_logits(classifier: nn.Module, images: Tensor) -> tuple[Tensor, Tensor]:
    """(penultimate features [N, F], logits [N, K]) of images in the classifier's input scale."""
    last = [m for m in classifier.modules() if isinstance(m, nn.Linear)][-1]
    seen: list[Tensor] = []
    handle = last.register_forward_pre_hook(lambda module, inputs: seen.append(inputs[0]))
    try:
        was_training = classifier.training
        classifier.eval()
        device = next(classifier.parameters()).device
        logits = classifier(images.to(device, torch.float32))
        classifier.train(was_training)
    finally:
        handle.remove()
    return seen[-1].flatten(1), logits
