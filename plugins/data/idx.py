"""A reader for the IDX files in which MNIST is distributed.

An IDX file is a header and a dense array, big-endian:

    bytes 0-1   zero
    byte  2     element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
                0x0D float32, 0x0E float64
    byte  3     number of dimensions d
    then        d sizes, uint32 each
    then        the elements, row-major

Files may be gzipped (recognised by their first bytes, not their name).
"""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

import numpy as np

from .errors import DataFormatError

ELEMENT_TYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path: str | Path) -> np.ndarray:
    """The array stored in an IDX file (gzipped or not), in native byte order."""
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise _bad(path, f"it does not start with an IDX magic number (first bytes {data[:4].hex() or 'none'})")
    dtype = ELEMENT_TYPES.get(data[2])
    if dtype is None:
        raise _bad(path, f"unknown IDX element type 0x{data[2]:02x}")
    ndim = data[3]
    start = 4 + 4 * ndim
    if ndim == 0 or len(data) < start:
        raise _bad(path, f"its header is cut short or declares {ndim} dimensions")
    shape = tuple(int(n) for n in np.frombuffer(data, ">u4", count=ndim, offset=4))
    expected = math.prod(shape) * dtype.itemsize
    if len(data) - start != expected:
        raise _bad(
            path, f"its header declares shape {shape} ({expected:,} bytes of data) but it holds {len(data) - start:,}"
        )
    array = np.frombuffer(data, dtype, offset=start).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=False)


def _read_bytes(path: Path) -> bytes:
    try:
        data = path.read_bytes()
        return gzip.decompress(data) if data[:2] == GZIP_MAGIC else data
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise _bad(path, f"it is not a valid gzip file ({exc})") from None


def _bad(path: Path, problem: str) -> DataFormatError:
    return DataFormatError(
        f"{path} is not a valid IDX file: {problem}. The file is probably corrupt or truncated: "
        "delete it and download it again."
    )
