"""Weights on the Hugging Face Hub: ``hf://OWNER/REPO/FILE.safetensors@REVISION``.

A zoo entry or a plugin's registration may name such a URL; like any other
source it needs the file's sha256 and size. The revision must be a full
commit id: a branch or tag can move, and the registration's hash would then
refuse what it points to; a commit never changes.

The file is downloaded with ``huggingface_hub.hf_hub_download`` (which reads
``HF_ENDPOINT``, read here at each call so that a change takes effect, and
the token the user logged in with) into a private folder inside dpzoo's
cache, bounded as every download is (the caller's deadline in all, never
past the registered size), then hashed and moved into the cache under its
sha256 (``sources.cached_path``). From there it loads like any other cached
file, offline included; the Hub's own cache is never used, so its layout of
symlinks never stands between dpzoo and the bytes it checks.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DpzooError, IntegrityError
from ..files import sha256_file

SCHEME = "hf://"
COMMIT = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class HubFile:
    repo_id: str  # OWNER/REPO
    filename: str  # a path inside the repository
    revision: str  # a commit id

    @property
    def url(self) -> str:
        return f"{SCHEME}{self.repo_id}/{self.filename}@{self.revision}"


def parse(url: str) -> HubFile:
    """``hf://OWNER/REPO/FILE.safetensors@COMMIT`` split into its parts, or an error saying what is wrong."""
    body, at, revision = url.removeprefix(SCHEME).rpartition("@")
    parts = body.split("/")
    if not url.startswith(SCHEME) or not at or len(parts) < 3 or "" in parts or ".." in parts:
        raise DpzooError(
            f"{url!r} is not a Hub URL: write hf://OWNER/REPO/FILE.safetensors@REVISION "
            "(REVISION: the 40-hex-digit commit id the file was uploaded in)"
        )
    if not COMMIT.match(revision):
        raise DpzooError(
            f"{url}: the revision {revision!r} is not a commit id; pin the file to the commit it was uploaded in "
            "(40 hex digits, shown on the file's history page on the Hub), since a branch or tag can move"
        )
    if not parts[-1].endswith(".safetensors"):
        raise DpzooError(f"{url}: dpzoo loads only .safetensors files from the Hub (never pickles)")
    return HubFile("/".join(parts[:2]), "/".join(parts[2:]), revision)


class _Bounded:
    """The progress bar ``hf_hub_download`` updates per chunk, used to stop a download that is too long.

    ``huggingface_hub`` announces the size it expects when it makes the bar, and
    calls ``update(len(chunk))`` as each chunk (up to 10 MB) arrives: raising
    there refuses an announced size above the registered one and stops a longer
    stream, as ``sources._download`` does for other URLs. ``received`` (on the
    class, which each download makes afresh) is the progress the deadline's
    message reports; ``cancelled`` stops a download abandoned at the deadline.
    """

    size = 0
    url = ""
    received = 0
    cancelled = False

    def __init__(self, *args, total=None, initial=0, **kwargs):
        self.count = initial or 0
        if total is not None and total > self.size:
            raise IntegrityError(
                f"{self.url} announces {total} bytes, more than the registered {self.size}; refusing it"
            )

    def update(self, n: int = 1) -> None:
        self.count += n
        type(self).received = self.count
        if self.count > self.size:
            raise IntegrityError(f"{self.url} is longer than the registered {self.size} bytes; refusing it")
        if self.cancelled:
            raise DpzooError(f"{self.url}: download abandoned at its deadline")

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass


def download(url: str, target: Path, sha256: str, size: int, *, timeout_s: float, deadline_s: float) -> None:
    """Download ``url`` from the Hub and move it to ``target`` once its size and sha256 are the registered ones.

    The download is refused past ``size`` bytes or ``deadline_s`` seconds; ``timeout_s`` bounds the wait for
    the Hub's answer to the first request.
    """
    where = parse(url)
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:  # pragma: no cover - a dependency of dpzoo
        raise DpzooError(
            f"cannot download {url}: huggingface_hub is not installed (pip install huggingface_hub)"
        ) from None

    class Bound(_Bounded):  # a class per download: huggingface_hub makes its progress bar from a class
        pass

    bound = Bound
    bound.size, bound.url = size, url
    target.parent.mkdir(parents=True, exist_ok=True)
    private = Path(tempfile.mkdtemp(prefix=".hub-", dir=target.parent))
    outcome: dict[str, Any] = {}

    def fetch() -> None:
        try:
            outcome["path"] = hf_hub_download(
                where.repo_id,
                where.filename,
                revision=where.revision,
                cache_dir=private,
                endpoint=os.environ.get("HF_ENDPOINT") or None,
                library_name="dpzoo",
                etag_timeout=timeout_s,
                tqdm_class=bound,
            )
        except BaseException as exc:  # handed to the caller's thread, which raises it
            outcome["error"] = exc

    # huggingface_hub reads in chunks of up to 10 MB and retries a stalled stream, so only a clock outside
    # it can keep the total deadline: it downloads in a worker, abandoned (and stopped at its next chunk) then.
    worker = threading.Thread(target=fetch, name=f"dpzoo download {url}", daemon=True)
    try:
        worker.start()
        worker.join(deadline_s)
        if worker.is_alive():
            bound.cancelled = True
            raise DpzooError(
                f"cannot download {url}: not finished within {deadline_s:g} s ({bound.received} of {size} bytes); "
                "download it yourself and load it with pretrained='path/to/file.safetensors'"
            )
        error = outcome.get("error")
        if isinstance(error, DpzooError):
            raise error
        if error is not None:  # huggingface_hub's own errors (HTTP, offline, not found) say what happened
            raise DpzooError(
                f"cannot download {url}: {type(error).__name__}: {error}. Check the connection and HF_ENDPOINT, or "
                "download the file yourself and load it with pretrained='path/to/file.safetensors'"
            ) from error
        path = outcome["path"]
        blob = Path(os.path.realpath(path))
        actual_size = blob.stat().st_size
        if actual_size != size:
            raise IntegrityError(f"{url} gave {actual_size} bytes, expected {size}; expected sha256 {sha256}")
        actual = sha256_file(blob)
        if actual != sha256:
            raise IntegrityError(
                f"{url} (file {where.filename} of {where.repo_id}) fails its hash check: "
                f"expected sha256 {sha256}, actual {actual}"
            )
        os.replace(blob, target)  # same folder tree, so a rename: the cache never holds a half-written file
    finally:
        shutil.rmtree(private, ignore_errors=True)
