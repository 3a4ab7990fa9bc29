"""dpzoo.plugins.objectives (being written)."""
