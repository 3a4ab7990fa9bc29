"""SIGTERM and SIGINT: finish the current step, write a checkpoint, exit with the way back.

Schedulers (Slurm's pre-emption, ``docker stop``, Kubernetes) send SIGTERM and
wait a grace period before SIGKILL; Ctrl-C sends SIGINT. Either one only sets a
flag here, so a step or a checkpoint write in progress is never torn; after the
step the trainer writes a checkpoint and raises ``Interrupted``, whose message
gives the run's real path to ``--resume``. The first signal restores the
previous handlers, so a second Ctrl-C (or SIGTERM) stops at once.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

from ..errors import DpzooError

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Interrupted(DpzooError):
    """Training stopped on a signal after checkpointing; ``exit_code`` is the shell's 128 + signal."""

    def __init__(self, signum: int, step: int, run_dir: Path | None, checkpoint: Path | None):
        self.signum, self.step, self.run_dir = signum, step, run_dir
        self.exit_code = 128 + signum
        name = signal.Signals(signum).name
        if checkpoint is None or run_dir is None:
            where = "no run directory, so nothing was saved"
        else:
            where = f"checkpoint {checkpoint} written; continue with: dpzoo train --resume {Path(run_dir).resolve()}"
        super().__init__(f"stopped by {name} after step {step}; {where}")


class StopOnSignal:
    """Handlers for SIGTERM and SIGINT while in a ``with`` block, and the trainer callback that obeys them."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}  # what signal.signal returned: a handler, SIG_DFL or SIG_IGN

    def __enter__(self) -> StopOnSignal:
        if threading.current_thread() is threading.main_thread():  # Python delivers signals to the main thread only
            for signum in SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        self._restore()

    def _restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame) -> None:
        self.signum = signum
        self._restore()  # a second signal takes the default road: stop now

    def __call__(self, trainer) -> None:
        """After each step: on a pending signal, checkpoint and raise ``Interrupted``."""
        if self.signum is None:
            return
        writes = trainer.run_dir is not None and trainer.distributed.is_main
        checkpoint = trainer.save_checkpoint(wait=True) if writes else None  # on disk before the message says so
        raise Interrupted(self.signum, trainer.step, trainer.run_dir, checkpoint)
