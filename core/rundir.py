"""Run directories that cannot collide: exclusive creation, safe names, one process per run.

A run lives in ``LOGDIR/NAME/``. Three rules keep two runs from mixing:

* ``NAME`` is one path component: no separator, no ``..``, not absolute, so a
  run never writes outside its logdir;
* a new run creates its folder exclusively; an existing run is refused with a
  message naming ``--resume`` (its files are never replaced);
* the process training a run holds an exclusive ``flock`` on ``NAME/.lock``
  for the run's whole life, so a second process (a second ``--run-name`` of
  the same name, a second ``--resume``) is refused while the first is alive.
  The kernel drops the lock when the process dies, even by ``kill -9``.

A run killed before its first complete checkpoint (no checkpoint record was
ever written) holds nothing worth keeping: starting it again under the same
name clears it and starts afresh, with a message.
"""

from __future__ import annotations

import errno
import os
import shutil
import sys
import time
from pathlib import Path

from .errors import ConfigError

LOCK = ".lock"
_SEPARATORS = ("/", "\\", os.sep) + ((os.altsep,) if os.altsep else ())


def say(message: str) -> None:
    """A one-line notice on stderr (stdout stays for results and ``--json``)."""
    print(f"dpzoo: {message}", file=sys.stderr, flush=True)


def check_run_name(name: str) -> str:
    """``name`` if it is a single path component, else an error saying why and what to do."""
    if not isinstance(name, str) or not name.strip():
        raise ConfigError("run_name: empty; give a name such as --run-name mlp-digits-1")
    if name in {".", ".."} or any(sep in name for sep in _SEPARATORS) or "\0" in name or Path(name).is_absolute():
        raise ConfigError(
            f"run_name: {name!r} is not a single folder name (no '/', '\\', '.' or '..'); "
            "runs are created under --logdir: choose the folder with --logdir and a plain --run-name"
        )
    return name


class RunLock:
    """An exclusive ``flock`` on ``RUN/.lock``, held until ``release`` (or the process's death)."""

    def __init__(self, run_dir: Path, fd: int):
        self.run_dir = run_dir
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, run_dir: str | Path) -> RunLock:
        import fcntl

        run_dir = Path(run_dir)
        fd = os.open(run_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise ConfigError(
                    f"run {str(run_dir)!r} is in use by process {holder}: one process trains a run at a time; "
                    "wait for it to finish, or choose another --run-name"
                ) from None
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        return cls(run_dir, fd)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _is_ours(entry: Path) -> bool:
    """Files a dpzoo run writes before its first checkpoint (safe to clear when restarting it)."""
    name = entry.name
    return (
        name in {LOCK, "config.json", "summary.json", "checkpoints"}
        or name.startswith("events.out.tfevents.")
        or (name.startswith(".") and name.endswith(".tmp"))
    )


def has_checkpoint(run_dir: Path) -> bool:
    """Whether a checkpoint record was ever completed (``last.json`` or a ``step-*.json``)."""
    directory = run_dir / "checkpoints"
    return directory.is_dir() and any(
        p.name == "last.json" or (p.name.startswith("step-") and p.name.endswith(".json")) for p in directory.iterdir()
    )


def is_stillborn(run_dir: Path) -> bool:
    """A run stopped before its first complete checkpoint: only the files a starting run writes."""
    entries = list(run_dir.iterdir())
    return all(_is_ours(e) for e in entries) and not has_checkpoint(run_dir)


def clear_stillborn(run_dir: Path, keep: tuple[str, ...] = ()) -> None:
    """Remove a stillborn run's files (old events, partial checkpoint files), keeping the lock and ``keep``."""
    for entry in run_dir.iterdir():
        if entry.name in {LOCK, *keep} or not _is_ours(entry):
            continue
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def create_run_dir(logdir: str | Path, run_name: str | None, default: str) -> tuple[Path, RunLock]:
    """A fresh run folder under ``logdir``, created exclusively and locked by this process."""
    root = Path(logdir)
    root.mkdir(parents=True, exist_ok=True)
    if not run_name:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for n in range(1, 10_000):
            path = root / (f"{default}-{stamp}" if n == 1 else f"{default}-{stamp}-{n}")
            try:
                path.mkdir()
            except FileExistsError:
                continue
            return path, RunLock.acquire(path)
        raise ConfigError(f"could not find a free run name under {root}; pass --run-name")
    path = root / check_run_name(run_name)
    try:
        path.mkdir()
    except FileExistsError:
        if not path.is_dir():
            raise ConfigError(f"{str(path)!r} exists and is not a folder; choose another --run-name") from None
        return path, _take_existing(path)
    return path, RunLock.acquire(path)


def _take_existing(path: Path) -> RunLock:
    lock = RunLock.acquire(path)  # refuses while another process trains into it
    try:
        if not (path / "config.json").exists() and not all(_is_ours(e) for e in path.iterdir()):
            raise ConfigError(
                f"{str(path)!r} already holds files that are not a dpzoo run; choose another --run-name or --logdir"
            )
        if not is_stillborn(path):
            raise ConfigError(
                f"run {str(path)!r} already exists; continue it with `dpzoo train --resume {path}` "
                "or choose another --run-name"
            )
    except BaseException:
        lock.release()
        raise
    if any(e.name != LOCK for e in path.iterdir()):
        say(f"run {path} never completed a checkpoint (stopped before its first); starting it afresh")
        clear_stillborn(path)
    return lock
