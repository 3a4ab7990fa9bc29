"""Hashing, caching and downloading weight files.

``DPZOO_CACHE``
    Where downloaded weights are kept (default: ``~/.cache/dpzoo``, or the
    platform's user cache directory).
``DPZOO_OFFLINE``
    ``1`` makes any download an error raised before a connection is opened;
    ``file://`` URLs, which need no network, still work.

A download goes to a temporary file beside its destination, is hashed while
it streams, and is renamed into place only when its size and sha256 match, so
the cache never holds a partial or wrong file under a final name.

Every load checks the full sha256. Hashing a file again is skipped only when
this process hashed the same path, size, inode and modification time before,
and the file was already older than ``RACY_S`` seconds then (a file changed
within the clock's resolution of being hashed could keep its mtime). The
parsed header and card are remembered under the same rule.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from ..env import env_flag
from ..errors import DpzooError, IntegrityError
from ..files import CHUNK, sha256_file
from ..provenance import version

SCHEMES = ("https://", "http://", "file://")
TIMEOUT_S = 30.0
RACY_S = 2.0

_remembered: dict[tuple, Any] = {}


class OfflineError(DpzooError):
    """A download was needed while ``DPZOO_OFFLINE`` is set."""


def cache_dir() -> Path:
    """``$DPZOO_CACHE``, else the user's cache directory + ``dpzoo``."""
    if os.environ.get("DPZOO_CACHE"):
        return Path(os.environ["DPZOO_CACHE"]).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "dpzoo"


def offline() -> bool:
    return env_flag("DPZOO_OFFLINE")


def remembered(path: Path, what: str, compute, stat: os.stat_result | None = None):
    """``compute()``, remembered per (what, path, size, inode, mtime) once the file is not racily new."""
    stat = stat or os.stat(path)
    name = os.fspath(path)
    key = (what, name if os.path.isabs(name) else os.path.abspath(name), stat.st_size, stat.st_ino, stat.st_mtime_ns)
    if key in _remembered:
        return _remembered[key]
    value = compute()
    if time.time() - stat.st_mtime > RACY_S:
        _remembered[key] = value
    return value


def sha256_of(path: Path, stat: os.stat_result | None = None) -> str:
    """The file's sha256 (remembered, see ``remembered``)."""

    return remembered(path, "sha256", lambda: sha256_file(path), stat)


def forget_hashes() -> None:
    """Empty the verification cache: the next check of every file hashes it in full."""
    _remembered.clear()


def check_file(path: Path, sha256: str, size: int | None, what: str) -> os.stat_result:
    """Refuse ``path`` unless its size and full sha256 are the expected ones; returns its ``os.stat``."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        raise IntegrityError(
            f"{what}: weight file {path} is missing; reinstall dpzoo or rebuild it (`dpzoo zoo build`)"
        ) from None
    actual_size = stat.st_size
    if size is not None and actual_size != size:
        raise IntegrityError(
            f"{what}: weight file {path} is {actual_size} bytes, expected {size} "
            f"({'truncated' if actual_size < size else 'replaced'}); expected sha256 {sha256}"
        )
    actual = sha256_of(path, stat)
    if actual != sha256:
        raise IntegrityError(
            f"{what}: weight file {path} fails its hash check: expected sha256 {sha256}, actual {actual}. "
            "The file is corrupt or was replaced; reinstall it, delete it to download it again, "
            "or rebuild it with `dpzoo zoo build`"
        )
    return stat


def fetch(url: str, sha256: str, size: int | None, filename: str) -> Path:
    """The verified local copy of ``url`` in the cache, downloading it if needed."""
    if not url.startswith(SCHEMES):
        raise DpzooError(f"cannot fetch {url!r}: dpzoo downloads {', '.join(SCHEMES)} URLs only")
    target = cache_dir() / "pretrained" / filename
    if target.exists():
        try:
            check_file(target, sha256, size, url)
            return target
        except IntegrityError:
            if offline():
                raise
            target.unlink()  # a damaged cached copy: fetch it again
    if offline() and not url.startswith("file://"):
        raise OfflineError(
            f"DPZOO_OFFLINE is set and {url} is not in the cache ({target}); unset DPZOO_OFFLINE to download it, "
            f"or copy the file there (sha256 {sha256})"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.part")
    try:
        actual, count = _download(url, tmp, size)
        if size is not None and count != size:
            raise IntegrityError(f"{url} gave {count} bytes, expected {size}; expected sha256 {sha256}")
        if actual != sha256:
            raise IntegrityError(f"{url} fails its hash check: expected sha256 {sha256}, actual {actual}")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _download(url: str, tmp: Path, size: int | None) -> tuple[str, int]:
    """Stream ``url`` into ``tmp``: (sha256, bytes). Stops early if it exceeds ``size``."""
    digest, count = hashlib.sha256(), 0
    request = urllib.request.Request(url, headers={"User-Agent": f"dpzoo/{version()}"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response, open(tmp, "wb") as handle:
            for chunk in iter(lambda: response.read(CHUNK), b""):
                count += len(chunk)
                if size is not None and count > size:
                    raise IntegrityError(f"{url} is longer than the registered {size} bytes; refusing it")
                digest.update(chunk)
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DpzooError(
            f"cannot download {url}: {reason}. Check the connection, or download the file yourself and "
            "load it with pretrained='path/to/file.safetensors'"
        ) from exc
    return digest.hexdigest(), count
