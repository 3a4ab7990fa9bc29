"""Files written atomically and hashed in full; light enough for the load path (no torch at import).

An atomic write goes to a temporary file beside its target, opened with
``O_CREAT | O_EXCL | O_NOFOLLOW`` under a name no other process or thread
uses (pid plus random bits), is flushed to disk, then renamed over the
target. Two writers therefore never share a temporary file, and a symlink
planted where the temporary file would go is refused rather than followed
(the rename replaces a link at the target itself, never what it points to).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
from pathlib import Path
from typing import Any

CHUNK = 1 << 20
_EXCLUSIVE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)


def read_json_object(path: str | os.PathLike) -> dict[str, Any] | None:
    """The JSON object in ``path``, or None when the file is missing, unreadable or holds something else."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


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


def temporary_beside(path: Path, attempts: int = 16) -> tuple[int, Path]:
    """A new, empty file next to ``path`` that only this call created: (descriptor, its path).

    A name that exists already (a file or a planted symlink) is never opened:
    another is drawn, ``attempts`` times at most, then ``FileExistsError``.
    """
    for _ in range(attempts):
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(8)}.tmp")
        try:
            return os.open(tmp, _EXCLUSIVE, 0o666), tmp  # 0o666 less the umask, as open(path, "w") gives
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {path} after {attempts} attempts (files planted there?)")


@contextlib.contextmanager
def _replacing(path: Path):
    """(descriptor, name) of a fresh exclusive temporary file beside ``path``, for the block to fill and close;
    flushed to disk and renamed onto ``path`` when the block succeeds, removed when it fails."""
    path = Path(path)
    fd, tmp = temporary_beside(path)
    try:
        yield fd, tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk must not fill up further with leftovers
        raise
    fsync_dir(path.parent)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to a private temporary file, flush it to disk, then rename it onto ``path``."""
    with _replacing(path) as (fd, _), os.fdopen(fd, "wb") as handle:
        handle.write(data)


def atomic_save_tensors(tensors, path: Path, metadata: dict[str, str] | None = None) -> None:
    """A ``safetensors`` file written as ``atomic_write_bytes`` writes: whole or not at all.

    Serialised to bytes first, then written through our own descriptor: the file
    gets the same permissions as every other file of a run, and a full disk is
    the ``OSError`` (ENOSPC) it is, where ``save_file`` reports a ``SafetensorError``.
    """
    from safetensors.torch import save

    atomic_write_bytes(path, save({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, metadata=metadata))
