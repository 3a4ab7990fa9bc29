"""Reading a ``.safetensors`` file's layout without torch, and checking it before anything uses it.

A safetensors file is an 8-byte little-endian header length N, N bytes of
JSON (each tensor's dtype, shape and byte range, plus a ``__metadata__``
mapping of strings), then the raw tensor bytes. The header is validated with
a schema before use: offsets are integers, the tensors tile the data section
exactly (contiguous, no overlap, no hole, nothing after the last), every
dimension is a non-negative integer and each byte range is its shape times
its dtype's width. Every problem is an ``IntegrityError`` naming the file, so
the safetensors library is never handed a layout it would refuse. No pickle
is involved anywhere in the format.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, TypeAdapter, ValidationError

from ..errors import IntegrityError

MAX_HEADER = 100 * 1024 * 1024  # the limit the safetensors library enforces
DTYPE_BYTES = {
    "BOOL": 1,
    "U8": 1,
    "I8": 1,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
    "U16": 2,
    "I16": 2,
    "F16": 2,
    "BF16": 2,
    "U32": 4,
    "I32": 4,
    "F32": 4,
    "U64": 8,
    "I64": 8,
    "F64": 8,
}
Dtype = Literal[
    "BOOL", "U8", "I8", "F8_E4M3", "F8_E5M2", "U16", "I16", "F16", "BF16", "U32", "I32", "F32", "U64", "I64", "F64"
]


class TensorInfo(BaseModel):
    """One tensor's header entry, as the format defines it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    dtype: Dtype
    shape: tuple[StrictInt, ...] = Field(description="Dimensions, each >= 0")
    data_offsets: tuple[StrictInt, StrictInt] = Field(description="[begin, end) inside the data section")

    @property
    def begin(self) -> int:
        return self.data_offsets[0]

    @property
    def end(self) -> int:
        return self.data_offsets[1]


_TENSORS = TypeAdapter(dict[str, TensorInfo])
_METADATA = TypeAdapter(dict[str, str])


@dataclass(frozen=True)
class Header:
    path: Path
    tensors: dict[str, TensorInfo]
    metadata: dict[str, str]
    data_start: int  # 8 + N
    size: int  # of the whole file


def header_length(prefix: bytes | bytearray, size: int, path: Path) -> int:
    """N from the first 8 bytes of a ``size``-byte file, refused unless the header fits."""
    if len(prefix) < 8:
        raise IntegrityError(f"{path} is {size} bytes: too short to be a safetensors file (truncated?)")
    n = int.from_bytes(prefix[:8], "little")
    if n > MAX_HEADER or 8 + n > size:
        raise IntegrityError(
            f"{path} is not a whole safetensors file: its header claims {n} bytes but the file has {size} "
            "(truncated, or another format; dpzoo loads only .safetensors, never pickles)"
        )
    return n


def parse_header(raw: bytes | bytearray, size: int, path: str | os.PathLike) -> Header:
    """The validated header of a ``size``-byte file whose first ``8 + N`` bytes are ``raw``."""
    path = Path(path)
    n = header_length(raw, size, path)
    try:
        doc = json.loads(raw[8 : 8 + n])
    except (UnicodeDecodeError, ValueError) as exc:
        raise IntegrityError(f"{path}: the safetensors header is not valid JSON ({exc}); the file is corrupt") from None
    except RecursionError:  # json's parser recurses once per nesting level: a bounded depth, reported
        raise IntegrityError(f"{path}: the safetensors header is nested too deeply; the file is corrupt") from None
    if not isinstance(doc, dict):
        raise IntegrityError(f"{path}: the safetensors header is not a JSON object; the file is corrupt")
    metadata = _validated(_METADATA, doc.pop("__metadata__", None) or {}, path, "__metadata__")
    tensors = _validated(_TENSORS, doc, path, "")
    _check_layout(path, tensors, size - 8 - n)
    return Header(path, tensors, metadata, 8 + n, size)


def _validated(adapter: TypeAdapter, value, path: Path, prefix: str):
    try:
        return adapter.validate_python(value)
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(part) for part in (prefix, *problem["loc"]) if part != "")
        raise IntegrityError(
            f"{path}: malformed safetensors header at {where!r}: {problem['msg']}; the file is corrupt"
        ) from None


def _check_layout(path: Path, tensors: dict[str, TensorInfo], data_size: int) -> None:
    """The tensors tile ``[0, data_size)`` exactly, each range as long as its shape and dtype say."""
    position = 0
    for name, t in sorted(tensors.items(), key=lambda item: item[1].data_offsets):
        if min(t.shape, default=0) < 0:
            raise IntegrityError(f"{path}: tensor {name!r} has a negative dimension in shape {list(t.shape)}")
        if t.end - t.begin != math.prod(t.shape) * DTYPE_BYTES[t.dtype] or t.begin != position:
            raise IntegrityError(
                f"{path}: tensor {name!r} ({t.dtype}, shape {list(t.shape)}) has byte range [{t.begin}, {t.end}] "
                f"where the layout needs [{position}, {position + math.prod(t.shape) * DTYPE_BYTES[t.dtype]}] "
                "(overlapping, gapped or mis-sized tensors); the file is corrupt"
            )
        position = t.end
    if position != data_size:
        raise IntegrityError(
            f"{path} holds {data_size} bytes of tensor data but its header describes {position}: "
            f"the file is {'truncated' if data_size < position else 'padded'}; download or rebuild it again"
        )


def read_header(path: str | os.PathLike) -> Header:
    """The validated header of the file at ``path``, reading only its first ``8 + N`` bytes."""
    path = Path(path)
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        prefix = handle.read(8)
        n = header_length(prefix, size, path)
        raw = prefix + handle.read(n)
    return parse_header(raw, size, path)


def tensors_sha256(header: Header, data: bytes | bytearray | memoryview) -> str:
    """sha256 over the tensors alone: for each name in sorted order, ``"name|dtype|[shape]|"`` then its bytes.

    ``data`` is the whole file. Unlike the file's own sha256 it ignores the
    metadata (the card, with its date), so two trainings that produce the same
    numbers share it.
    """
    digest = TensorsDigest(header)
    digest.advance(data, header.size)
    return digest.hexdigest()


class TensorsDigest:
    """``tensors_sha256`` computed while the file arrives: each tensor is hashed as soon as its bytes, and
    those of every tensor before it in name order, are in the buffer.

    Files written by ``safetensors`` lay tensors of one dtype out in name
    order, so each tensor is hashed right after it is read; in any other
    order the rest waits for the bytes it needs (at worst, the whole file).
    """

    def __init__(self, header: Header):
        self.header = header
        self._names = sorted(header.tensors)
        self._next = 0
        self._digest = hashlib.sha256()

    def advance(self, data: bytes | bytearray | memoryview, available: int) -> None:
        """Hash the next tensors in name order whose bytes lie within ``data[:available]``."""
        header, names = self.header, self._names
        with memoryview(data) as view:
            while self._next < len(names):
                t = header.tensors[names[self._next]]
                if header.data_start + t.end > available:
                    return
                self._digest.update(f"{names[self._next]}|{t.dtype}|{json.dumps(list(t.shape))}|".encode())
                self._digest.update(view[header.data_start + t.begin : header.data_start + t.end])
                self._next += 1

    def hexdigest(self) -> str:
        if self._next != len(self._names):
            raise ValueError("not every tensor has been hashed yet")
        return self._digest.hexdigest()
