"""The training loop.

Automatic mode: ``output = model(batch)``, ``loss(output, batch)``, backward,
clip, step, schedule. Manual mode (the model defines ``training_step``): the
model calls ``ctx.optimise(name, loss)`` for its optimisers, as often as it
needs. Both share one ``Stepper``, so clipping, accumulation, fp16 scaling and
schedules apply alike; named schedules (``trainer.schedules``) are evaluated
before every batch and media are logged every ``media_every`` epochs, spaced by
``media_seconds`` and by 19 times their own cost, and at the end.

The hot loop never synchronises with the device: loss values are kept as
tensors and read (one sync) every ``log_every`` steps. Nothing else is written
from the training thread: TensorBoard events and checkpoints are written on
background threads (``background``), in order, and waited for when ``fit``
ends, however it ends. A checkpoint is taken (its tensors copied) at a step
boundary; by default at most one per ``checkpoint_seconds`` of training, and
always one at the end and on SIGTERM/SIGINT.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..errors import ConfigError
from ..interfaces import LossOutput
from ..media import checked_image
from .background import Background
from .checkpoint import checkpoint_path, snapshot, write_snapshot
from .config import TrainConfig
from .context import StepContext
from .data import InMemorySplits
from .devices import resolve_device
from .distributed import Distributed
from .epoch_lines import EpochLines, wanted
from .evaluation import direction, evaluate
from .logger import RunLogger, default_log_every
from .nonfinite import NonFiniteGuard
from .recovery import load_newest
from .schedules import resolve_schedules, unknown_schedule
from .sequences import Carry, SequenceSplits, check_overlap, set_aside
from .step import Stepper
from .summary import RunSummary

MEDIA_SHARE = 19  # epoch-end media wait at least 19 times their own last cost: at most 5% of training time


def total_steps(data: InMemorySplits | SequenceSplits, config: TrainConfig, world_size: int = 1) -> int:
    """Training steps (batches) the run will take."""
    if config.max_steps is not None:
        return config.max_steps
    return config.epochs * data.steps_per_epoch(config.batch_size, config.drop_last, world_size)


class Trainer:
    """Trains a model on in-memory splits; see ``dpzoo.train`` for the by-name recipe."""

    # an nn.Module with dpzoo's optional hooks (training_step, evaluation_step, carry), which nn.Module's type lacks
    model: Any
    loss: Any  # the loss (automatic mode, where it cannot be None), or None in manual mode

    def __init__(
        self,
        config: TrainConfig | None = None,
        *,
        run_dir: str | Path | None = None,
        hparams: dict[str, Any] | None = None,
        callbacks: Sequence[Callable[[Trainer], None]] = (),
    ):
        self.config = config or TrainConfig()
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.hparams = hparams or {}
        self.callbacks = list(callbacks)
        if self.config.threads is not None:
            torch.set_num_threads(self.config.threads)
        self.distributed = Distributed.from_environment()
        self.device = self.distributed.device(resolve_device(self.config.device))
        self.logger: RunLogger | None = None
        self.ctx = StepContext(self)
        self.step = 0
        self.epoch = 0
        self.batch_in_epoch = 0
        self.schedule_values: dict[str, float] = {}
        self.history: list[dict[str, float]] = []
        self._best: float | None = None
        self._bad_evaluations = 0
        self._stop = False
        self.guard = NonFiniteGuard(self.config.on_nonfinite, self.run_dir)
        self.seconds_before = 0.0  # training time of earlier processes of this run (restored on resume)
        self.on_restore: list[Callable[[Trainer], None]] = []  # e.g. options changed on resume
        self._checkpoint_due = False
        self._media_step: int | None = None
        self._logged_step: int | None = None
        self._summary: RunSummary | None = None  # RUN/summary.json, for `dpzoo runs`
        self._epoch_lines: EpochLines | None = None  # one line per epoch where no progress bar is shown
        self._last_train: dict[str, float] = {}
        self._last_train_step = 0  # the step _last_train was logged at
        self._checkpoints: Background | None = None  # the checkpoint-writing thread, while fit runs
        self._next_timed_checkpoint = math.inf
        self._next_media = -math.inf  # the training clock's time from which epoch-end media are due again
        self._clamped_images: set[str] = set()  # log_image tags whose out-of-range values were reported

    # -- public ----------------------------------------------------------------
    def fit(
        self,
        model: nn.Module,
        data: InMemorySplits,
        *,
        optimisers: dict[str, torch.optim.Optimizer],
        loss: Callable | None = None,
        schedulers: dict[str, Any] | None = None,
        metrics: dict[str, Callable] | None = None,
        resume: bool = False,
    ) -> dict[str, float]:
        """Train, evaluate, and return the final metrics (``validation/...``, ``test/...``)."""
        cfg = self.config
        self.distributed.start(self.device)
        self.model, self.data, self.loss = model.to(self.device), data, loss
        self.optimisers, self.schedulers, self.metrics = optimisers, schedulers or {}, metrics or {}
        self.manual = callable(getattr(model, "training_step", None))
        if not self.manual and loss is None:
            raise ConfigError("no loss: pass one, or give the model a training_step (manual mode)")
        if not self.manual and set(optimisers) != {"model"}:
            raise ConfigError(f"automatic mode uses one optimiser named 'model', got {sorted(optimisers)}")
        self._forward = self.distributed.wrap(self.model, self.device, self.manual)
        self._ddp: Any = self._forward if self._forward is not self.model else None  # DistributedDataParallel
        self._plateau = {n: s for n, s in self.schedulers.items() if hasattr(s, "monitor")}
        self.stepper = Stepper(
            optimisers,
            {n: s for n, s in self.schedulers.items() if n not in self._plateau},
            accumulate=cfg.accumulate,
            grad_clip=cfg.grad_clip,
            fp16=cfg.precision == "fp16",
            device=self.device,
            distributed=self.distributed,
            average_gradients=self.manual,
        )
        self.stepper.guard = self.guard if self.guard.checks_every_step else None  # trainer.on_nonfinite=skip
        self.optimiser_steps = self.stepper.steps
        self.schedules = resolve_schedules(getattr(model, "default_schedules", None) or {}, cfg.schedules)
        self._schedule_attributes = [name for name in self.schedules if hasattr(self.model, name)]
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(cfg.precision)
        # None when off: the hot loop then skips the `with` altogether
        self._autocast: Callable[[], Any] | None = (
            (lambda: torch.autocast(self.device.type, dtype=dtype)) if dtype else None
        )
        if cfg.deterministic:
            torch.use_deterministic_algorithms(True)
        self.total_steps = total_steps(data, cfg, self.distributed.world_size)
        self.log_every = cfg.log_every or default_log_every(self.total_steps)
        check_overlap(self.model, data)  # before any training, not at the first evaluation
        self._carry = Carry(self.model, data)
        if resume:
            self._restore()
        if self.run_dir is not None and self.distributed.is_main:
            # a resumed run keeps what it logged up to its checkpoint's step and rewrites what came after
            self.logger = RunLogger(self.run_dir, purge_step=self.step + 1 if resume else None)
            self.logger.layout(list(self.metrics))
            epochs = None if cfg.max_steps is not None else cfg.epochs
            self._summary = RunSummary(
                self.run_dir, self.total_steps, epochs, resumed=resume, submit=self.logger.after_writes
            )
            self._summary.write(self.step, self.epoch)
        # training values since the last log: "loss", the loss's terms, ctx.log(...)
        self._pending: dict[str, list] = {"loss": []}
        self._pending_loss = self._pending["loss"]
        if self._writes_checkpoints:
            self._checkpoints = Background("checkpoints", maxsize=1)
            self.guard.settle = self.wait_for_checkpoints  # its messages name the last checkpoint on disk
        self._started = time.perf_counter()
        self._schedule_timed_checkpoint()
        self._schedule_media()
        try:
            self._train()
            final = self._finish()
        except BaseException:
            self._close_writers(raise_errors=False)  # what was taken is still written; this error is the one raised
            raise
        self._close_writers(raise_errors=True)
        return final

    def _close_writers(self, raise_errors: bool) -> None:
        """Wait for every checkpoint and event written in the background, then end those threads."""
        checkpoints, self._checkpoints = self._checkpoints, None
        try:
            if checkpoints is not None:
                checkpoints.close(raise_errors)
        finally:  # the events are finished even when the checkpoints failed (or a second Ctrl-C came)
            try:
                if self.logger is not None:
                    try:
                        self._flush_summary(raise_errors)
                    finally:
                        self.logger.close(raise_errors)
            finally:
                self.distributed.stop()

    def _flush_summary(self, raise_errors: bool) -> None:
        """Write an evaluation the summary's rate limit held back (its writer's failure is the logger's to raise)."""
        if self._summary is None:
            return
        try:
            self._summary.flush()
        except Exception:
            if raise_errors:
                raise

    def evaluate(self, split: str) -> dict[str, float]:
        """Mean loss, loss terms and metrics over a split (see ``evaluation.evaluate``)."""
        return evaluate(
            self.model,
            self.data,
            split,
            loss=self.loss,
            metrics=self.metrics,
            batch_size=self.config.eval_batch_size,
            ctx=self.ctx,
            autocast=self._autocast or contextlib.nullcontext,
        )

    @torch.no_grad()
    def predict(self, split: str, target: str | None = "y") -> tuple[Any, Tensor | None]:
        """Outputs over a whole split in order (dicts joined key by key) and the ``target`` column, if any."""
        was_training = self.model.training
        self.model.eval()
        outputs, targets = [], []
        try:
            with set_aside(self.model, self.data):  # a model's carried state: the split starts from none
                for batch in self.data.batches(split, self.config.eval_batch_size):
                    with (self._autocast or contextlib.nullcontext)():
                        outputs.append(self.model(batch))
                    if target is not None and target in batch:
                        targets.append(batch[target])
        finally:
            self.model.train(was_training)
        joined: dict[str, Tensor] | Tensor
        if outputs and isinstance(outputs[0], dict):
            joined = {key: torch.cat([o[key] for o in outputs]) for key in outputs[0]}
        else:
            joined = torch.cat(outputs)
        return joined, (torch.cat(targets) if targets else None)

    def autocast(self):
        """``torch.autocast`` at ``trainer.precision``, or a context that does nothing at 32 bits."""
        return self._autocast() if self._autocast is not None else contextlib.nullcontext()

    def optimise(self, name: str, loss: Tensor | LossOutput) -> None:
        """One loss for optimiser ``name`` (see ``Stepper.optimise``); a ``LossOutput``'s terms are logged."""
        if isinstance(loss, LossOutput) and loss.terms:
            self.log_values(loss.terms)
        self.stepper.optimise(name, loss)

    def log_values(self, values: dict[str, Any]) -> None:
        """Training scalars ``train/<name>``, kept on the device and averaged at the next log."""
        for name, value in values.items():
            self._pending.setdefault(name, []).append(value.detach() if isinstance(value, Tensor) else value)

    def schedule(self, name: str) -> float:
        try:
            return self.schedule_values[name]
        except KeyError:
            raise unknown_schedule(name, self.schedules) from None

    def log_image(self, tag: str, image: Tensor) -> None:
        if self.logger is not None:
            image, problem = checked_image(tag, image)
            if problem is not None and tag not in self._clamped_images:  # said once per tag
                self._clamped_images.add(tag)
                warnings.warn(problem, stacklevel=3)
            self.logger.add_image(tag, image.unsqueeze(0) if image.dim() == 2 else image, self.step)

    def log_text(self, tag: str, text: str) -> None:
        if self.logger is not None:
            self.logger.add_text(tag, text, self.step)

    # -- the loop ----------------------------------------------------------------
    def _train(self) -> None:
        cfg, data = self.config, self.data
        progress = self._progress_bar()
        if progress is None and self.distributed.is_main and wanted(cfg.progress, sys.stderr):
            self._epoch_lines = EpochLines(self.total_steps, None if cfg.max_steps is not None else cfg.epochs)
        anneal = bool(self.schedules)
        checkpoint_every = cfg.checkpoint_every if self._writes_checkpoints else None
        timed = cfg.checkpoint_seconds is not None and self._writes_checkpoints
        self.model.train()
        try:
            while not self._stop and self.step < self.total_steps:
                if cfg.max_steps is None and self.epoch >= cfg.epochs:
                    break
                batches = data.epoch_order(
                    cfg.seed,
                    self.epoch,
                    cfg.batch_size,
                    cfg.drop_last,
                    self.distributed.rank,
                    self.distributed.world_size,
                )
                for i in range(self.batch_in_epoch, len(batches)):
                    if anneal:
                        self._anneal()
                    self._carry.before_batch(i)
                    self._train_batch(data.gather("train", batches[i], (cfg.seed, self.step)))
                    self.step += 1
                    self.batch_in_epoch = i + 1
                    if progress is not None:
                        progress.update(1)
                    if self.step % self.log_every == 0:
                        self._log_training(progress)
                    if checkpoint_every and self.step % checkpoint_every == 0:
                        self._checkpoint_due = True
                    if timed and time.perf_counter() >= self._next_timed_checkpoint:
                        self._checkpoint_due = True
                    if self._checkpoint_due:
                        self._checkpoint_at_a_window_boundary()
                    for callback in self.callbacks:
                        callback(self)
                    if self.step >= self.total_steps:
                        break
                if self.batch_in_epoch == len(batches):
                    self._end_epoch()
        finally:
            if progress is not None:
                progress.close()

    def _train_batch(self, batch: dict[str, Tensor]) -> None:
        if self.manual:
            out = self.model.training_step(batch, self.ctx)
            if out is not None:
                out = LossOutput.of(out)
                self._pending_loss.append(out.total.detach() if isinstance(out.total, Tensor) else out.total)
                if out.terms:
                    self.log_values(out.terms)
            return
        # under DDP, a micro-batch that does not end its accumulation window skips the all-reduce
        if self._ddp is not None and not self.stepper.completes("model"):
            with self._ddp.no_sync():
                loss = self._automatic_step(batch)
        else:
            loss = self._automatic_step(batch)
        # detached at once (0.4 us): a kept loss would keep its step's whole autograd graph alive until the next log
        self._pending_loss.append(loss.total.detach())
        if loss.terms:
            self.log_values(loss.terms)

    def _automatic_step(self, batch: dict[str, Tensor]) -> LossOutput:
        if self._autocast is None:  # no `with` at all when autocast is off
            output = self._forward(batch)
            loss = self.loss(output, batch)
        else:
            with self._autocast():
                output = self._forward(batch)
                loss = self.loss(output, batch)
        if type(loss) is not LossOutput:
            loss = LossOutput.of(loss)
        self.stepper.optimise("model", loss.total)
        return loss

    def _anneal(self) -> None:
        for name, schedule in self.schedules.items():
            self.schedule_values[name] = schedule.at(self.step, self.total_steps)
        self._set_schedule_attributes()

    def _set_schedule_attributes(self) -> None:
        for name in self._schedule_attributes:
            if name not in self.schedule_values:
                continue
            value, current = self.schedule_values[name], getattr(self.model, name)
            if isinstance(current, Tensor):  # a buffer: keep its device and dtype
                with torch.no_grad():
                    current.fill_(value)
            else:
                setattr(self.model, name, value)

    # -- epochs, evaluation, early stopping, media ------------------------------------------
    def _end_epoch(self) -> None:
        cfg = self.config
        self.epoch += 1
        self.batch_in_epoch = 0
        values: dict[str, float] = {}
        if cfg.validate_every and self.epoch % cfg.validate_every == 0 and "validation" in self.data:
            values = self.evaluate("validation")
            self._record(values)
            for scheduler in self._plateau.values():
                scheduler.step(self._monitored(values, scheduler.monitor, "scheduler.monitor"))
            if cfg.early_stopping is not None:
                self._early_stopping(values)
        if self._epoch_lines is not None:
            self._epoch_lines.epoch(self.epoch, self.step, self._last_train, values, self._last_train_step)
        if cfg.media_every and self.epoch % cfg.media_every == 0 and time.perf_counter() >= self._next_media:
            self._log_media()
        if self._writes_checkpoints and cfg.checkpoint_epochs and self.epoch % cfg.checkpoint_epochs == 0:
            self._checkpoint_due = True
            self._checkpoint_at_a_window_boundary()

    def _early_stopping(self, values: dict[str, float]) -> None:
        rule = self.config.early_stopping
        if rule is None:
            return
        value = self._monitored(values, rule.monitor, "trainer.early_stopping.monitor")
        mode = rule.mode or direction(rule.monitor, self.metrics)
        better = (
            self._best is None
            or (mode == "min" and value < self._best - rule.min_delta)
            or (mode == "max" and value > self._best + rule.min_delta)
        )
        if better:
            self._best, self._bad_evaluations = value, 0
        else:
            self._bad_evaluations += 1
            self._stop = self._bad_evaluations >= rule.patience

    @staticmethod
    def _monitored(values: dict[str, float], key: str, what: str) -> float:
        if key not in values:
            raise ConfigError(f"{what}: {key!r} is not evaluated; choose one of {sorted(values)}")
        return values[key]

    def _record(self, values: dict[str, float]) -> dict[str, float]:
        if self.history and self.history[-1]["step"] == self.step:
            self.history[-1].update(values)
        else:
            self.history.append({"step": self.step, "epoch": self.epoch, **values})
        if self.logger is not None:
            self.logger.scalars(values, self.step)
        if self._summary is not None:
            self._summary.write(self.step, self.epoch, values)
        return values

    def _log_media(self) -> None:
        """``model.log_media(ctx)`` in eval mode under no_grad, once per step at most.

        Torch's random state is put back afterwards: media drawn from it would
        otherwise change what training draws next, and whether they run at an
        epoch's end depends on the clock (``media_seconds``).
        """
        log_media = getattr(self.model, "log_media", None)
        if self.logger is None or not callable(log_media) or self._media_step == self.step:
            return
        was_training = self.model.training
        self.model.eval()
        started = time.perf_counter()
        devices = [self.device] if self.device.type == "cuda" else []
        try:
            with torch.no_grad(), torch.random.fork_rng(devices=devices, device_type=self.device.type):
                log_media(self.ctx)
        finally:
            self.model.train(was_training)
        self._media_step = self.step
        self._schedule_media(time.perf_counter() - started)

    # -- logging -------------------------------------------------------------------
    def _mean(self, values: list) -> Tensor:
        if all(type(v) is Tensor for v in values):  # the usual case: detached tensors (see log_values), one stack
            stacked = torch.stack(values).float()
        else:
            stacked = torch.stack(
                [v.float() if isinstance(v, Tensor) else torch.tensor(float(v), device=self.device) for v in values]
            )
        if self.guard.checks_every_step:  # skipped steps' losses are not part of training's curve
            stacked = stacked[torch.isfinite(stacked)]
        return stacked.mean()

    def _log_training(self, progress=None) -> None:
        if self._logged_step == self.step:  # the end of a run that just logged
            return
        self._logged_step = self.step
        names = [name for name, items in self._pending.items() if items]
        values: dict[str, float] = {}
        if names:
            means = [self._mean(self._pending[name]).to(self.device) for name in names]
            values = {f"train/{name}": value for name, value in zip(names, torch.stack(means).tolist())}  # one sync
            if not math.isfinite(values.get("train/loss", 0.0)):
                self.guard.check_losses(self._pending_loss, self.step)
            if "train/loss" in values and self.guard.mode != "ignore":
                self.guard.watch(values["train/loss"], self.step, self._pending_loss)
            for items in self._pending.values():
                items.clear()
        if self.guard.mode == "skip":
            values["train/skipped_steps"] = self.guard.skipped
        for name, optimiser in self.optimisers.items():
            key = "train/lr" if len(self.optimisers) == 1 else f"train/lr/{name}"
            values[key] = optimiser.param_groups[0]["lr"]
        values.update({f"train/{name}": value for name, value in self.schedule_values.items()})
        self._last_train, self._last_train_step = values, self.step
        if self.logger is not None:
            self.logger.scalars(values, self.step)
        if progress is not None and "train/loss" in values:
            progress.set_postfix(loss=f"{values['train/loss']:.4f}", refresh=False)

    def _progress_bar(self):
        show = self.config.progress if self.config.progress is not None else sys.stderr.isatty()
        if not show:
            return None
        from tqdm.auto import tqdm

        return tqdm(total=self.total_steps, initial=self.step, unit="step")

    def _finish(self) -> dict[str, float]:
        self._log_training()
        if self.logger is not None:  # first: the writer thread draws its figures while the splits are evaluated
            self._log_media()
        final: dict[str, float] = {}
        if "validation" in self.data:
            last = self.history[-1] if self.history and self.history[-1]["step"] == self.step else {}
            done = {k: v for k, v in last.items() if k.startswith("validation/")}
            final.update(done or self._record(self.evaluate("validation")))
        if self.config.test and "test" in self.data:
            final.update(self._record(self.evaluate("test")))
        seconds = self.seconds_before + time.perf_counter() - self._started  # summed over every process of the run
        final.update({"step": self.step, "epoch": self.epoch, "seconds": seconds})
        if self.guard.mode == "skip":
            final["skipped_steps"] = self.guard.skipped
        if self._writes_checkpoints:
            self.save_checkpoint()  # the run is over: a window left open is never stepped on
        if self.logger is not None:
            numeric = {k: float(v) for k, v in final.items() if "/" in k}
            self.logger.hparams(self.hparams, numeric, self.step)
        if self._summary is not None:
            self._summary.write(self.step, self.epoch, finished=True)
        return final

    # -- checkpoints -------------------------------------------------------------------
    @property
    def _writes_checkpoints(self) -> bool:
        return self.run_dir is not None and self.distributed.is_main

    def _checkpoint_at_a_window_boundary(self) -> None:
        """A due checkpoint waits until no optimiser holds accumulated gradients, so resume is bit-exact."""
        if not self.stepper.mid_window:
            self.save_checkpoint()
            self._checkpoint_due = False

    def checkpoint_state(self) -> dict[str, Any]:
        rng = {"torch": torch.get_rng_state()}  # the only generator the trainer and torch's layers draw from
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        return {  # live references: ``checkpoint.snapshot`` copies every tensor
            "model": self.model.state_dict(),
            "stepper": self.stepper.state_dict(),
            "plateau": {n: s.state_dict() for n, s in self._plateau.items()},
            "rng": rng,
            "progress": {
                "step": self.step,
                "epoch": self.epoch,
                "batch_in_epoch": self.batch_in_epoch,
                "best": self._best,
                "bad_evaluations": self._bad_evaluations,
                "stop": self._stop,
                "schedules": dict(self.schedule_values),
                "skipped_steps": self.guard.skipped,
                "seconds": self.seconds_before + time.perf_counter() - self._started,
            },
            "carry": self._carry.state(),
        }

    def save_checkpoint(self, wait: bool = False) -> Path:
        """Checkpoint this step: the state is copied now, written on the checkpoint thread (``wait``: written now).

        One write at a time: a checkpoint taken while the previous one is still
        being written waits for it (and raises its error, if it failed).
        """
        if self.run_dir is None:
            raise ConfigError("this trainer has no run directory to checkpoint into")
        self.guard.check_losses(self._pending_loss, self.step)  # never a checkpoint from NaN steps
        self.guard.check_parameters(self.model, self.step, "checkpoint")
        directory = self.run_dir / "checkpoints"
        taken = snapshot(self.step, self.checkpoint_state())
        self._schedule_timed_checkpoint()
        if self._checkpoints is None:  # outside fit: no writer thread
            return write_snapshot(directory, taken, self.config.keep_checkpoints)
        self._checkpoints.wait()
        self._checkpoints.submit(write_snapshot, directory, taken, self.config.keep_checkpoints)
        if wait:
            self._checkpoints.wait()
        return checkpoint_path(directory, taken.step)

    def wait_for_checkpoints(self) -> None:
        """Block until every checkpoint taken so far is on disk (raises a write's error)."""
        if self._checkpoints is not None:
            self._checkpoints.wait()

    def _schedule_media(self, cost: float = 0.0) -> None:
        """Epoch-end media wait ``media_seconds`` of training from now, and at least ``MEDIA_SHARE`` times
        what the last call took (``cost``), so that drawing takes at most 1 / (1 + MEDIA_SHARE) of a run:
        on short epochs a matplotlib figure (~90 ms) would cost more than the training it shows, and a
        GPT's samples (4.5 s on one CPU thread) most of a short epoch. The end of a run always logs."""
        seconds = self.config.media_seconds
        self._next_media = -math.inf if not seconds else time.perf_counter() + max(seconds, MEDIA_SHARE * cost)

    def _schedule_timed_checkpoint(self) -> None:
        seconds = self.config.checkpoint_seconds
        self._next_timed_checkpoint = math.inf if seconds is None else time.perf_counter() + seconds

    def _restore(self) -> None:
        if self.run_dir is None:
            raise ConfigError("resume needs the run directory")
        step, state, skipped = load_newest(self.run_dir / "checkpoints")
        for note in skipped:
            print(f"dpzoo: passed over checkpoint {note}", file=sys.stderr)
        if skipped:
            print(f"dpzoo: resuming from the newest checkpoint that verifies, step {step}", file=sys.stderr, flush=True)
        if "stepper" not in state:
            raise ConfigError(
                f"the checkpoint in {self.run_dir} was written by a dpzoo before per-optimiser steps (round 2) and "
                "cannot be resumed by this one; start the run again"
            )
        try:
            self.model.load_state_dict(state["model"])
        except RuntimeError as exc:
            raise ConfigError(
                f"the checkpoint in {self.run_dir} does not fit this model ({str(exc).splitlines()[0]}); "
                "resume with the model options the run was started with, or start a new run"
            ) from None
        self.stepper.load_state_dict(state["stepper"])
        for name, scheduler in self._plateau.items():
            scheduler.load_state_dict(state["plateau"][name])
        rng = state["rng"]
        torch.set_rng_state(rng["torch"])
        if "cuda" in rng and self.device.type == "cuda":
            torch.cuda.set_rng_state(rng["cuda"], self.device)
        progress = state["progress"]
        self.step, self.epoch, self.batch_in_epoch = progress["step"], progress["epoch"], progress["batch_in_epoch"]
        self._best, self._bad_evaluations, self._stop = progress["best"], progress["bad_evaluations"], progress["stop"]
        self.schedule_values = {n: v for n, v in progress["schedules"].items() if n in self.schedules}
        self._logged_step = self.step  # logged (or lost with the killed process) before the checkpoint
        self._set_schedule_attributes()
        self.guard.skipped = progress.get("skipped_steps", 0)
        self.seconds_before = progress.get("seconds", 0.0)
        for hook in self.on_restore:
            hook(self)
        self._carry.restore(state.get("carry"), self.device)
