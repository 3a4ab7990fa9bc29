"""Work done off the training thread, in order: TensorBoard writes and checkpoint writes.

A ``Background`` is one daemon thread fed by a bounded queue. Jobs run in the
order they were submitted, so events land in the order they were logged and
checkpoints in the order they were taken. Submitting never copies anything:
the caller hands over values the training thread will not change again (plain
floats, tensors cloned to the CPU).

The first failure is kept and raised on the training thread at the next
``submit``, ``wait`` or ``close``; jobs after it are dropped (a checkpoint that
follows a failed one must not be written over it as if nothing happened).
``close`` waits for what was submitted, so a run's files are complete when
``fit`` returns, raises, or is stopped by a signal. ``maxsize`` bounds the
memory a slow disk can hold back; when the queue is full ``submit`` waits.
"""

from __future__ import annotations

import queue
import signal
import threading
from collections.abc import Callable
from typing import Any

_STOP = object()


class Background:
    """One worker thread running submitted jobs in order; errors come back to the caller."""

    def __init__(self, name: str, maxsize: int = 64):
        self._jobs: queue.Queue = queue.Queue(maxsize)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"dpzoo-{name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        if hasattr(signal, "pthread_sigmask"):  # SIGINT/SIGTERM go to the training thread, which handles them
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        while True:
            job = self._jobs.get()
            try:
                if job is _STOP:
                    return
                if self._error is None:
                    fn, args, kwargs = job
                    fn(*args, **kwargs)
            except BaseException as exc:  # noqa: BLE001 - handed to the training thread, raised there
                self._error = exc
            finally:
                self._jobs.task_done()

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Run ``fn(*args, **kwargs)`` after every job submitted before it."""
        self.raise_error()
        if not self._thread.is_alive():
            raise RuntimeError("this background writer is closed")
        self._jobs.put((fn, args, kwargs))

    @property
    def busy(self) -> bool:
        """Whether a job is queued or running."""
        return self._jobs.unfinished_tasks > 0

    def wait(self) -> None:
        """Block until every submitted job has run; raise the first error one of them met."""
        if self._thread.is_alive():
            self._jobs.join()
        self.raise_error()

    def raise_error(self) -> None:
        error, self._error = self._error, None
        if error is not None:
            raise error

    def close(self, raise_errors: bool = True) -> None:
        """Finish every submitted job and end the thread; ``raise_errors=False`` while another error unwinds."""
        if self._thread.is_alive():
            self._jobs.put(_STOP)
            self._thread.join()
        if raise_errors:
            self.raise_error()
        else:
            self._error = None  # another error is unwinding: it is the one reported
