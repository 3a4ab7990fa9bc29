"""Data sets for the book's classifiers: ``digits`` (scikit-learn's 8x8) and ``mnist``.

Each is a ``dpzoo.Dataset``: ``load()`` returns a ``datasets.DatasetDict``
with fixed train, validation and test splits, columns x ([N, C, H, W]) and y
(int64 digit), and ``transform`` makes float pixels on the device.
``fingerprint(split)`` names the exact examples a model was scored on;
``tables.to_arrays(split, columns)`` reads a split into NumPy in its stored dtypes.
"""
