"""Objective functions and metrics (chapter 2 of the book, section 2.4).

Losses take the model's output tensor and the batch, and return a
``dpzoo.LossOutput``: ``mse``, ``huber`` (regression), ``bce_logits``,
``cross_entropy``, ``hinge`` (classification) and ``kl`` (matching a target
distribution). Metrics return one value per example, which the trainer
averages over an epoch: ``accuracy``, ``error_rate`` and ``nll``.
"""
