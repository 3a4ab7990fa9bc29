"""Gradients through discrete random choices (chapter 9 of the book).

A model that samples a category t ~ Cat(p_1, ..., p_K) from logits x has no
useful derivative through the draw: the sample is a step function of x. This
plugin holds the estimators chapter 9 sets against each other:

* ``gumbel_max`` (``noise.py``): t = argmax_i (x_i + g_i), g_i = -log(-log U_i),
  U_i ~ Uniform(0, 1), an exact sample of Cat(softmax(x)).
* ``gumbel_softmax`` (``gumbel_softmax.py``): the arg max relaxed with a
  temperature, y = softmax((x + g) / tau); y tends to the one-hot sample as
  tau -> 0 and to the uniform vector as tau grows.
* ``st_gumbel``: the straight-through operator applied to that relaxation,
  onehot(argmax(x + g)) forwards, the gradient of y backwards (biased, low variance).
* ``reinforce`` (``reinforce.py``): the score-function estimator of eq. 9.4,
  (1/m) sum_i L(y^(i)) d log p(y^(i)) / d omega, unbiased but noisy, optionally
  with a moving-average baseline b subtracted from L.

``catvae.py`` is a categorical VAE whose estimator is a config choice, so the
three can be measured against each other on one model.
"""
