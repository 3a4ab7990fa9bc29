"""Broken dpzoo plugins for testing how dpzoo reports them."""
