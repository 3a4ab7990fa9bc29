"""Relaxations of discrete and non-smooth operations (chapter 9 of the book).

Each relaxation pairs a ``hard(x)`` operation with a smooth ``soft(x, tau)``
that tends to it as the temperature tau -> 0, and a straight-through
estimator whose forward value is ``hard(x)`` and whose gradient is that of
``soft(x, tau)``. Files are named after the operation they relax:
``argmax`` (``softmax``, ``soft_argmax``, ``straight_through_argmax``),
``maximum`` (``soft_max``), ``relu`` (``softplus``) and ``absolute`` (``huber``).
"""
