"""The identity of the examples a model saw: a sha256 over a split's arrays.

The digest covers, for each column in sorted order, a header
``"{name}|{dtype.str}|{shape}|"`` followed by the column's C-ordered bytes, so
two splits share a fingerprint exactly when they hold the same values in the
same order with the same dtypes and shapes. A run records the fingerprint of
each split it trained and was evaluated on; the zoo checks it again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np


def fingerprint(split: Any, columns: Iterable[str] | None = None) -> str:
    """sha256 hex digest of ``columns`` of a ``datasets.Dataset``, or of a dict of arrays or tensors.

    ``columns`` defaults to every key of a dict, and to ``("x", "y")`` for a ``datasets.Dataset``.

    A ``datasets.Dataset`` is read in its stored dtypes (``uint8`` MNIST pixels
    stay ``uint8``), the same arrays ``tables.to_arrays`` gives the trainer.
    """
    columns = list(columns if columns is not None else split if isinstance(split, Mapping) else ("x", "y"))
    if isinstance(split, Mapping):
        arrays = split
    else:
        from .tables import to_arrays  # datasets and pyarrow: imported only for a datasets.Dataset

        arrays = to_arrays(split, columns)
    digest = hashlib.sha256()
    for name in sorted(columns):
        array = _numpy(arrays[name])
        digest.update(f"{name}|{array.dtype.str}|{array.shape}|".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor, on any device
        value = value.detach().cpu().numpy()
    array = np.ascontiguousarray(value)
    if array.dtype.byteorder == ">":  # hash the same bytes on any machine
        array = array.astype(array.dtype.newbyteorder("<"))
    return array
