"""Optimisers and learning-rate schedules (chapter 6 of the book).

Optimiser factories, ``factory(params, config) -> torch.optim.Optimizer``:
``sgd``, ``momentum``, ``adagrad``, ``rmsprop``, ``adam`` and ``adamw``. Each
module's docstring gives the update it performs; the work is done by
``torch.optim`` with its default (foreach) kernels.

Schedule factories, ``factory(optimizer, config, total_steps)``: ``step``,
``cosine``, ``cyclic`` (stepped once per optimiser step) and
``reduce_on_plateau`` (stepped with a monitored value after each validation).
"""
