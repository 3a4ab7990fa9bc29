"""dpzoo.plugins.data (being written)."""
