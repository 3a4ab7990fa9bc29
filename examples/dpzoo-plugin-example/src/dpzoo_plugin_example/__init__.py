"""An example dpzoo plugin: a tiny MLP classifier and the two-moons dataset.

``plugin.py`` is all dpzoo imports to list the plugin; the model and the data
live in their own modules and load when first used.
"""

__version__ = "0.1.0"
