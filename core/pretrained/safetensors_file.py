"""Reading a ``.safetensors`` file's layout without torch.

A safetensors file is an 8-byte little-endian header length N, N bytes of
JSON (each tensor's dtype, shape and byte range, plus a ``__metadata__``
mapping of strings), then the raw tensor bytes. The JSON alone tells us the
tensors' names and shapes, the model card in the metadata, and how long a
whole file must be, so a truncated file is caught before anything loads.
No pickle is involved anywhere in the format.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import IntegrityError

MAX_HEADER = 100 * 1024 * 1024  # the limit the safetensors library enforces
DTYPE_BYTES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1,
    "U16": 2, "I16": 2, "F16": 2, "BF16": 2,
    "U32": 4, "I32": 4, "F32": 4,
    "U64": 8, "I64": 8, "F64": 8,
}


@dataclass(frozen=True)
class TensorInfo:
    dtype: str  # safetensors' name: F32, I64, ...
    shape: tuple[int, ...]
    begin: int  # byte range inside the data section
    end: int


@dataclass(frozen=True)
class Header:
    path: Path
    tensors: dict[str, TensorInfo]
    metadata: dict[str, str]
    data_start: int  # 8 + N

    @property
    def expected_size(self) -> int:
        return self.data_start + max((t.end for t in self.tensors.values()), default=0)


def read_header(path: str | os.PathLike) -> Header:
    """The parsed header of ``path``; an ``IntegrityError`` naming the file if it is not whole safetensors."""
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as handle:
        prefix = handle.read(8)
        if len(prefix) < 8:
            raise IntegrityError(f"{path} is {size} bytes: too short to be a safetensors file (truncated?)")
        n = int.from_bytes(prefix, "little")
        if n > MAX_HEADER or 8 + n > size:
            raise IntegrityError(
                f"{path} is not a whole safetensors file: its header claims {n} bytes but the file has {size} "
                "(truncated, or another format; dpzoo loads only .safetensors, never pickles)"
            )
        raw = handle.read(n)
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IntegrityError(f"{path}: the safetensors header is not valid JSON ({exc}); the file is corrupt") from None
    if not isinstance(doc, dict):
        raise IntegrityError(f"{path}: the safetensors header is not a JSON object; the file is corrupt")
    metadata = doc.pop("__metadata__", None) or {}
    tensors = {name: _tensor_info(path, name, spec) for name, spec in doc.items()}
    header = Header(path, tensors, dict(metadata), 8 + n)
    if header.expected_size != size:
        raise IntegrityError(
            f"{path} is {size} bytes but its header describes {header.expected_size}: "
            f"the file is {'truncated' if size < header.expected_size else 'padded'}; download or rebuild it again"
        )
    return header


def _tensor_info(path: Path, name: str, spec: Any) -> TensorInfo:
    try:
        dtype, shape, (begin, end) = spec["dtype"], tuple(int(d) for d in spec["shape"]), spec["data_offsets"]
    except (KeyError, TypeError, ValueError):
        raise IntegrityError(f"{path}: tensor {name!r} has a malformed header entry {spec!r}") from None
    width = DTYPE_BYTES.get(dtype)
    if width is None or end - begin != math.prod(shape) * width or begin < 0:
        raise IntegrityError(f"{path}: tensor {name!r} ({dtype}, shape {list(shape)}) has byte range [{begin}, {end}]")
    return TensorInfo(dtype, shape, int(begin), int(end))


def tensors_sha256(path: str | os.PathLike, header: Header | None = None) -> str:
    """sha256 over the tensors alone: for each name in sorted order, ``"name|dtype|[shape]|"`` then its bytes.

    Unlike the file's own sha256 it ignores the metadata (the card, with its
    date), so two trainings that produce the same numbers share it.
    """
    header = header or read_header(path)
    digest = hashlib.sha256()
    with open(header.path, "rb") as handle:
        for name in sorted(header.tensors):
            t = header.tensors[name]
            digest.update(f"{name}|{t.dtype}|{json.dumps(list(t.shape))}|".encode())
            handle.seek(header.data_start + t.begin)
            remaining = t.end - t.begin
            while remaining:
                chunk = handle.read(min(remaining, 1 << 20))
                if not chunk:
                    raise IntegrityError(f"{header.path} ended inside tensor {name!r}: the file is truncated")
                digest.update(chunk)
                remaining -= len(chunk)
    return digest.hexdigest()
