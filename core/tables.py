"""NumPy arrays to ``datasets`` splits and back, without touching examples one by one.

``datasets.Dataset.from_dict`` and reading a column in the ``"numpy"`` format
go through Python objects per example (and the format widens integers to
int64): for MNIST's 60,000 images that takes seconds to build and tens of
seconds to read, where Arrow's own buffers take a tenth of a second.
Here an ``ArrayXD`` column is built as nested Arrow lists over one flat
buffer, and read back with ``datasets``' own zero-copy ``to_numpy``.
"""

from __future__ import annotations

from collections.abc import Iterable

import datasets
import numpy as np
import pyarrow as pa
from datasets.table import InMemoryTable


def to_dataset(arrays: dict[str, np.ndarray], features: datasets.Features, **info) -> datasets.Dataset:
    """A split whose columns are ``arrays``, typed by ``features`` (``ArrayXD``, ``Value``, ``ClassLabel``).

    ``info`` (``description``, ``license``, ...) goes to the split's ``datasets.DatasetInfo``.
    """
    lengths = {name: len(arrays[name]) for name in features}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"columns differ in length: {lengths}")
    columns = [_arrow_column(name, np.asarray(arrays[name]), features[name]) for name in features]
    table = pa.Table.from_arrays(columns, schema=features.arrow_schema)
    return datasets.Dataset(InMemoryTable(table), info=datasets.DatasetInfo(features=features, **info))


def _arrow_column(name: str, array: np.ndarray, feature) -> pa.Array:
    arrow_type = _arrow_type(feature)
    if not isinstance(arrow_type, pa.ExtensionType):
        if array.ndim == 2:  # a fixed-length Sequence: one list per example over one flat buffer
            offsets = np.arange(len(array) + 1, dtype=np.int32) * array.shape[1]
            return pa.ListArray.from_arrays(pa.array(offsets), pa.array(array.reshape(-1))).cast(arrow_type)
        return pa.array(array, type=arrow_type)
    if tuple(array.shape[1:]) != tuple(feature.shape):
        raise ValueError(f"column {name!r} has examples of shape {array.shape[1:]}, its feature says {feature.shape}")
    # ArrayXD storage is d nested list levels over the flat elements.
    storage = pa.array(np.ascontiguousarray(array, dtype=feature.dtype).reshape(-1))
    for size in reversed(array.shape[1:]):
        offsets = np.arange(0, len(storage) + 1, size, dtype=np.int32)
        storage = pa.ListArray.from_arrays(pa.array(offsets), storage)
    return pa.ExtensionArray.from_storage(arrow_type, storage)


def _arrow_type(feature) -> pa.DataType:
    return datasets.Features({"column": feature}).type.field("column").type


def to_arrays(split: datasets.Dataset, columns: Iterable[str]) -> dict[str, np.ndarray]:
    """The named columns of a split as writable NumPy arrays in their stored dtype.

    An ``Array3D((1, 28, 28), "uint8")`` column comes back as one ``uint8``
    array of shape ``[N, 1, 28, 28]``; a ``ClassLabel`` as ``int64`` ``[N]``.
    Any selection or shuffle applied to the split is honoured.
    """
    columns = list(columns)
    missing = [name for name in columns if name not in split.column_names]
    if missing:
        raise KeyError(f"split has no column(s) {missing}; it has {split.column_names}")
    table = split.with_format("arrow")[:]  # applies the split's indices mapping, if any
    arrays = {}
    for name in columns:
        column = table.column(name).combine_chunks()
        array = column.to_numpy(zero_copy_only=False)
        if array.dtype == object:  # a Sequence/list column: one array per example
            array = _stack(name, array)
        arrays[name] = np.require(array, requirements=["C", "W"])  # copies only Arrow's read-only buffers
    return arrays


def _stack(name: str, examples: np.ndarray) -> np.ndarray:
    """``[N]`` objects, each an array (nested lists come back as arrays of arrays), to one ``[N, ...]`` array."""

    def dense(value):
        value = np.asarray(value)
        return np.stack([dense(v) for v in value]) if value.dtype == object else value

    try:
        return np.stack([dense(example) for example in examples]) if len(examples) else examples
    except ValueError:
        raise ValueError(
            f"column {name!r} holds examples of different shapes; dpzoo batches in-memory tensors, "
            "so every example of a column needs the same shape (pad it, or use an ArrayXD feature)"
        ) from None
