"""dpzoo.plugins.optim (being written)."""
