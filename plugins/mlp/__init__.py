"""Multilayer perceptrons (chapters 2-4 and 7 of the book)."""
