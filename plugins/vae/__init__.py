"""Variational autoencoders (chapter 14.2) and the pieces other plugins reuse.

Registered components:

* model ``vae`` (``model.py``): Gaussian q(z|x) (MLP or convolutional),
  Bernoulli or Gaussian p(x|z); ``encode``, ``decode``, ``sample(n)``;
* loss ``elbo`` (``elbo.py``): the negative ELBO, terms ``reconstruction`` and
  ``kl`` logged apart, KL weighted by ``beta`` (the trainer's schedule);
* metrics ``neg_elbo`` and ``iw_nll`` (``metrics.py``): nats per example;
* datasets ``binarised_mnist`` and ``binarised_digits`` (``binarised.py``):
  dynamic binarisation in training, a fixed seeded draw for validation/test;
* command ``dpzoo likelihood SOURCE -k K`` (``command.py``): the IW bound of a
  zoo entry or a run with any number of samples.

Reusing the ELBO in another model (a categorical VAE, say): return a dict
from ``forward`` with the decoder's parameters (``"x_logits"`` for a
Bernoulli decoder, or ``"x_mean"`` and ``"x_logvar"``), the per-example
``"kl"`` [N] of your posterior against your prior, and in training a scalar
``"beta"`` if the KL is weighted; set ``default_loss = "elbo"``. The
functions ``elbo.negative_elbo(output, x)``,
``likelihood.negative_log_likelihood(output, x)`` and
``dpzoo.plugins.autoencoders.checks.check_unit_interval(x, setting, instead)``
are the same pieces, callable directly. Train on ``--data binarised_digits`` (seconds) or
``binarised_mnist``.
"""
