"""Reading weight files once, and downloading them into the cache.

``DPZOO_CACHE``
    Where downloaded weights are kept (default: ``~/.cache/dpzoo``, or the
    platform's user cache directory).
``DPZOO_OFFLINE``
    A flag (``dpzoo.env_flag``): set, any download is an error raised before
    a connection is opened; ``file://`` URLs, which need no network, still work.
    ``HF_HUB_OFFLINE`` does the same for ``hf://`` URLs (the Hugging Face Hub,
    see ``hub.py``; ``HF_ENDPOINT`` says where the Hub is).

``read_verified`` is the one way a weight file is read: opened once without
following a symlink, refused unless it is a regular file of the recorded
size, read whole into memory, and hashed; the caller parses and loads those
same bytes, so what was hashed is what loads, whatever happens to the path
meanwhile. Nothing is remembered between loads: every load hashes in full.

A download needs the file's sha256 and size. It streams into a private
temporary file beside its destination, stopping as soon as it exceeds the
size or the total ``DEADLINE_S``, and is renamed into place only when size and
sha256 match. Cached files are named by their sha256, so a file in the cache
is valid exactly when its bytes hash to its name; a registration that
disagrees with a valid cached file (another size) is an error, and the file
stays.
"""

from __future__ import annotations

import hashlib
import os
import stat
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from ..env import env_flag
from ..errors import DpzooError, IntegrityError
from ..files import CHUNK, sha256_file, temporary_beside
from ..provenance import version
from . import hub

SCHEMES = ("https://", "http://", "file://", "hf://")
TIMEOUT_S = 30.0  # the longest wait for any one read from the server
DEADLINE_S = 600.0  # the longest a whole download may take
# A weight file is read in pieces of this size, each hashed right after it is read: small enough to be
# hashed from the CPU's cache, large enough that the per-piece Python work is negligible.
READ_CHUNK = 256 << 10
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)


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


def _offline_for(url: str) -> str | None:
    """The variable that forbids downloading ``url`` now, if one does."""
    if url.startswith("file://"):
        return None
    if offline():
        return "DPZOO_OFFLINE"
    if url.startswith(hub.SCHEME) and env_flag("HF_HUB_OFFLINE"):
        return "HF_HUB_OFFLINE"
    return None


def read_verified(path: str | os.PathLike, sha256: str, size: int, what: str, check=None) -> tuple[bytearray, Any]:
    """(the bytes of ``path``, the result of the check ``check()`` makes): read once into private memory,
    refused unless they are ``size`` long and hash to ``sha256``.

    A symlink, a device (``/dev/zero``), a FIFO or a directory is refused
    before a byte is read; so is a regular file of another size. The file is
    read in ``READ_CHUNK`` pieces, each hashed as soon as it lands (while it is
    still in the CPU's cache), so the bytes are crossed once. ``check`` makes a
    fresh checker (see ``loading.StreamCheck``) that is fed the buffer and how
    much of it has arrived after each piece, so it can parse and hash what it
    needs as the bytes come; a hash mismatch is reported before any error of
    the checker, and its result is returned only for bytes that hashed right.
    """
    try:
        fd = os.open(path, _READ_FLAGS)
    except FileNotFoundError:
        raise IntegrityError(
            f"{what}: weight file {path} is missing; reinstall dpzoo or rebuild it (`dpzoo zoo build`)"
        ) from None
    except OSError as exc:  # ELOOP: a symlink where a weight file should be
        raise IntegrityError(
            f"{what}: weight file {path} cannot be opened as a regular file ({exc.strerror})"
        ) from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise IntegrityError(f"{what}: {path} is not a regular file; weights are read only from regular files")
    with os.fdopen(fd, "rb", buffering=0) as handle:
        if info.st_size != size:
            raise IntegrityError(
                f"{what}: weight file {path} is {info.st_size} bytes, expected {size} "
                f"({'truncated' if info.st_size < size else 'replaced'}); expected sha256 {sha256}"
            )
        data, count, digest = bytearray(size), 0, hashlib.sha256()
        checker = check() if check is not None else None
        try:
            with memoryview(data) as view:
                while count < size and (n := handle.readinto(view[count : count + READ_CHUNK])):
                    digest.update(view[count : count + n])
                    count += n
                    if checker is not None:
                        checker.feed(data, count)
            grew = handle.read(1)  # a file that changed length since fstat is caught too
        finally:
            if checker is not None:
                checker.close(count)  # nothing more will come: it finishes (or abandons) its work
    if count != size or grew:
        raise IntegrityError(f"{what}: weight file {path} changed length while it was read; expected sha256 {sha256}")
    actual = digest.hexdigest()
    if actual != sha256:
        raise IntegrityError(
            f"{what}: weight file {path} fails its hash check: expected sha256 {sha256}, actual {actual}. "
            "The file is corrupt or was replaced; reinstall it, delete it to download it again, "
            "or rebuild it with `dpzoo zoo build`"
        )
    return data, (checker.result() if checker is not None else None)


def cached_path(sha256: str) -> Path:
    """Where the cache keeps the file whose sha256 is ``sha256``."""
    return cache_dir() / "pretrained" / f"{sha256}.safetensors"


def fetch(url: str, sha256: str, size: int, what: str, check=None) -> tuple[bytearray, Any]:
    """``read_verified`` of ``url``'s copy in the cache, downloading it there first if needed."""
    if not url.startswith(SCHEMES):
        raise DpzooError(f"cannot fetch {url!r}: dpzoo downloads {', '.join(SCHEMES)} URLs only")
    if url.startswith(hub.SCHEME):
        hub.parse(url)  # a malformed or unpinned Hub URL is refused even when the file is cached
    target = cached_path(sha256)
    try:
        return read_verified(target, sha256, size, what, check)
    except IntegrityError as exc:
        if target.is_file() and sha256_file(target) == sha256:  # a valid copy: the registration is what is wrong
            raise IntegrityError(
                f"{what}: registered with size {size}, but the file whose sha256 is {sha256} is "
                f"{target.stat().st_size} bytes ({target}); the registration is wrong: fix its size"
            ) from None
        if target.exists() and (offline() or _offline_for(url)):
            raise exc from None
    if flag := _offline_for(url):
        raise OfflineError(
            f"{flag} is set and {url} is not in the cache ({target}); unset {flag} to download it, "
            f"or copy the file there (sha256 {sha256})"
        )
    if url.startswith(hub.SCHEME):
        hub.download(url, target, sha256, size, timeout_s=TIMEOUT_S, deadline_s=DEADLINE_S)
        return read_verified(target, sha256, size, what, check)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = temporary_beside(target)
    try:
        with os.fdopen(fd, "wb") as handle:
            actual, count = _download(url, handle, size)
            handle.flush()
            os.fsync(handle.fileno())
        if count != size:
            raise IntegrityError(f"{url} gave {count} bytes, expected {size}; expected sha256 {sha256}")
        if actual != sha256:
            raise IntegrityError(f"{url} fails its hash check: expected sha256 {sha256}, actual {actual}")
        os.replace(tmp, target)  # a corrupt copy under this name is replaced whole, never deleted first
    finally:
        tmp.unlink(missing_ok=True)
    return read_verified(target, sha256, size, what, check)


def _download(url: str, handle, size: int) -> tuple[str, int]:
    """Stream ``url`` into ``handle``: (sha256, bytes). Stops past ``size`` bytes or ``DEADLINE_S`` seconds."""
    digest, count = hashlib.sha256(), 0
    deadline = time.monotonic() + DEADLINE_S
    request = urllib.request.Request(url, headers={"User-Agent": f"dpzoo/{version()}"})
    try:
        with urllib.request.urlopen(request, timeout=min(TIMEOUT_S, DEADLINE_S)) as response:
            announced = response.headers.get("Content-Length")
            if announced is not None and announced.isdigit() and int(announced) > size:
                raise IntegrityError(f"{url} announces {announced} bytes, more than the registered {size}; refusing it")
            while chunk := response.read1(CHUNK):  # read1: returns what arrived, so the deadline is checked often
                count += len(chunk)
                if count > size:
                    raise IntegrityError(f"{url} is longer than the registered {size} bytes; refusing it")
                if time.monotonic() > deadline:
                    raise DpzooError(
                        f"cannot download {url}: not finished within {DEADLINE_S:g} s ({count} of {size} bytes); "
                        "download it yourself and load it with pretrained='path/to/file.safetensors'"
                    )
                digest.update(chunk)
                handle.write(chunk)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DpzooError(
            f"cannot download {url}: {reason}. Check the connection, or download the file yourself and "
            "load it with pretrained='path/to/file.safetensors'"
        ) from exc
    return digest.hexdigest(), count
