"""dpzoo.plugins.relaxations (being written)."""
