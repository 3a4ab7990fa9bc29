"""Reading and writing 8-bit PNG files with zlib alone (dpzoo depends on no imaging library).

A PNG is a signature and chunks (length, type, data, CRC-32 of type and
data): IHDR (size, bit depth, colour type), IDAT (zlib-compressed scanlines,
each preceded by a filter byte) and IEND. We write filter 0 (none) and read
filters 0-4 (none, sub, up, average, Paeth), 8-bit grey, grey + alpha, RGB
and RGBA, not interlaced: what image editors and scanners write.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # colour type -> samples per pixel


class PNGError(ValueError):
    """The file is not a PNG this reader handles; the message says why."""


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def write_png(path: str | Path, image: np.ndarray) -> None:
    """Write [H, W] grey or [H, W, 3] RGB values in [0, 1] as an 8-bit PNG."""
    pixels = np.clip(np.rint(np.asarray(image, dtype=np.float64) * 255), 0, 255).astype(np.uint8)
    if pixels.ndim == 2:
        colour_type = 0
    elif pixels.ndim == 3 and pixels.shape[2] == 3:
        colour_type = 2
    else:
        raise PNGError(f"write_png takes [H, W] or [H, W, 3] images, got shape {pixels.shape}")
    height, width = pixels.shape[:2]
    rows = pixels.reshape(height, -1)
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)  # filter 0 on every scanline
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    Path(path).write_bytes(
        SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    )


def paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def unfilter(data: bytes, height: int, stride: int, bpp: int) -> np.ndarray:
    """Undo each scanline's filter: [H, stride] bytes."""
    out = np.zeros((height, stride), dtype=np.uint8)
    previous = np.zeros(stride, dtype=np.int64)
    position = 0
    for y in range(height):
        kind = data[position]
        line = np.frombuffer(data, dtype=np.uint8, count=stride, offset=position + 1).astype(np.int64)
        position += stride + 1
        if kind == 0:
            row = line
        elif kind == 2:
            row = (line + previous) % 256
        elif kind in (1, 3, 4):
            row = line.copy()
            for x in range(stride):
                left = row[x - bpp] if x >= bpp else 0
                up, corner = previous[x], (previous[x - bpp] if x >= bpp else 0)
                predictor = left if kind == 1 else (left + up) // 2 if kind == 3 else paeth(left, up, corner)
                row[x] = (row[x] + predictor) % 256
        else:
            raise PNGError(f"scanline {y} has unknown filter type {kind}")
        out[y] = row
        previous = row
    return out


def read_png(path: str | Path) -> np.ndarray:
    """The image as float64 [H, W, C] in [0, 1] (C = 1, 2, 3 or 4); every chunk's CRC is checked."""
    blob = Path(path).read_bytes()
    if not blob.startswith(SIGNATURE):
        raise PNGError(f"{path} is not a PNG file (its signature is {blob[:8]!r})")
    position, header, idat = len(SIGNATURE), None, []
    while position < len(blob):
        (length,) = struct.unpack(">I", blob[position : position + 4])
        kind, data = blob[position + 4 : position + 8], blob[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", blob[position + 8 + length : position + 12 + length])
        if zlib.crc32(kind + data) & 0xFFFFFFFF != crc:
            raise PNGError(f"{path}: chunk {kind!r} fails its CRC check; the file is corrupt")
        position += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", data)
        elif kind == b"IDAT":
            idat.append(data)
        elif kind == b"IEND":
            break
    if header is None or not idat:
        raise PNGError(f"{path} has no IHDR or no IDAT chunk")
    width, height, depth, colour_type, _, _, interlace = header
    if depth != 8 or colour_type not in CHANNELS or interlace:
        raise PNGError(
            f"{path}: only 8-bit, non-interlaced grey/RGB(A) PNGs are read (bit depth {depth}, colour type "
            f"{colour_type}, interlace {interlace}); re-save it as an 8-bit PNG"
        )
    channels = CHANNELS[colour_type]
    rows = unfilter(zlib.decompress(b"".join(idat)), height, width * channels, channels)
    return rows.reshape(height, width, channels) / 255.0


def to_grey(image: np.ndarray) -> np.ndarray:
    """[H, W, C] -> [H, W]: ITU-R BT.601 luma for colour, alpha composited over white."""
    colour = image[..., :-1] if image.shape[-1] in (2, 4) else image
    grey = colour[..., 0] if colour.shape[-1] == 1 else colour[..., :3] @ np.array([0.299, 0.587, 0.114])
    if image.shape[-1] in (2, 4):
        alpha = image[..., -1]
        grey = alpha * grey + (1 - alpha)
    return grey
