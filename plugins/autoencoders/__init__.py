"""Autoencoders (chapter 13): h = f(x), r = g(h), trained to reconstruct x.

Registered models, one file each, all built on ``base.Autoencoder``
(``encode(x) -> h``, ``decode(h) -> r``, ``reconstruct(x)``):

* ``linear_ae`` (``linear.py``): h = W_e x + b_e, r = W_d h + b_d; spans PCA's subspace;
* ``ae`` (``deep.py``): MLP encoder and mirrored decoder;
* ``conv_ae`` (``conv.py``): stride-2 convolutions, transposed convolutions back;
* ``dae`` (``denoising.py``): the deep autoencoder trained on corrupted inputs
  (Gaussian noise or masking) against the clean x;
* ``sparse_ae`` (``sparse.py``): an L1 penalty lambda sum |h_i| on a ReLU code,
  with its loss ``reconstruction_l1`` logging ``reconstruction`` and ``l1`` apart.

The labels are never read, so any image dataset serves (``--data digits``,
``mnist``): the default loss is ``{"name": "mse", "target": "x"}`` (or
``bce_logits`` with ``reconstruction=bce``) and there are no default metrics.
``networks.py`` holds the MLP and convolutional encoders and decoders that the
VAE (``dpzoo.plugins.vae``) shares; ``checks.py`` the data-range check.
"""
