"""Files written atomically and hashed in full; light enough for the load path (no torch at import)."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from pathlib import Path

CHUNK = 1 << 20


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temporary_name(path: Path) -> Path:
    """A sibling name no other process or thread will pick: two writers never share a temporary file."""
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def _publish(tmp: Path, path: Path) -> None:
    """Flush ``tmp`` to disk with the permissions a plain ``open`` would give, then rename it over ``path``."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # safetensors creates 0600; every file of a run reads alike
    with open(tmp, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file, flush it to disk, then rename it into place (whole or not at all)."""
    tmp = temporary_name(path)
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
        _publish(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk must not fill up further with our leftovers
        raise


def atomic_save_tensors(tensors, path: Path, metadata: dict[str, str] | None = None) -> None:
    """``safetensors`` file written as ``atomic_write_bytes`` writes: whole or not at all."""
    from safetensors.torch import save_file

    from safetensors import SafetensorError

    tmp = temporary_name(path)
    try:
        try:
            save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp), metadata=metadata)
        except SafetensorError as exc:  # a full disk is an OSError like any other write's
            code = re.search(r"os error (\d+)", str(exc))
            if code is None:
                raise
            raise OSError(int(code.group(1)), os.strerror(int(code.group(1))), str(path)) from exc
        _publish(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
