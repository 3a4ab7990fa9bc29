"""dpzoo's built-in plugins, one sub-package per topic of the book.

Each is declared in the ``dpzoo`` entry-point group in ``pyproject.toml``,
exactly as a third-party plugin would be.
"""
