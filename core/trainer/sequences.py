"""Batches cut from one long sequence, and the state a model carries between them.

A dataset whose ``sequence()`` returns a spec (``SequenceSpec``) stores each
split as one long 1-D stream in the column ``spec.column`` (token ids, say).
A batch is then ``B`` rows of ``T = spec.block`` consecutive positions with
their one-step-shifted targets::

    batch[column][b] = s[t_b     : t_b + T]
    batch[target][b] = s[t_b + 1 : t_b + T + 1]

The starts ``t_b`` come from one of two schemes (``spec.batching``):

* ``windows``: each step draws ``B`` starts uniformly from ``0 .. N - T - 1``.
  An epoch is ``(N - 1) // (B T)`` steps, so it covers the stream about once.
* ``stream`` (truncated back-propagation through time): the N - 1 predicted
  positions are cut into ``R = B * world_size`` equal rows of ``L = (N - 1) // R``
  positions; step k takes block k of every row, so consecutive batches
  continue each row and a model may carry its state from one to the next.
  An epoch is ``L // T`` steps.

Both are functions of (seed, epoch) alone, so a resumed run, which restores
the epoch and the batch within it, draws exactly the same batches. Under
``torchrun`` every process takes its own share: the windows drawn for a global
batch are split by rank, and rank ``r`` owns rows ``r B .. (r + 1) B - 1``.

Evaluation walks a split once, in order: its N - 1 predicted positions are cut
into ``spec.eval_rows`` rows (1 by default: one unbroken pass), read ``T`` at a
time, so every position is predicted exactly once. When the rows do not divide
the positions evenly, the last row is padded at its end with input 0 and
target ``PAD`` (-100, PyTorch's ``ignore_index``), which losses and metrics skip.

A model that sees only its window (a transformer with a fixed context) would
predict the first positions of each evaluation window from almost nothing.
``spec.eval_overlap = K`` (< T) makes consecutive windows of a row overlap by
K positions and gives the K re-read targets ``PAD``: each window advances by
T - K, every position is still scored exactly once, and every one after a
row's first window is predicted from at least K positions before it (the
sliding-window evaluation of fixed-length models). It costs T / (T - K) times
the evaluation's compute; ``predict``'s outputs then hold the re-read
positions as well (their targets are ``PAD``). A model that carries its state
would read the overlap twice, so training or evaluating one with an overlap is
an error (``check_overlap``).

**Carried state.** A model that carries a recurrent state between batches
keeps it in the attribute ``carry`` (``None``, a tensor, or a tuple of
tensors): ``forward`` starts from ``self.carry`` and stores its final state
there. The trainer owns the carry's lifetime (``Carry``): with ``stream``
batching it is detached at every batch boundary (gradients flow within a
batch's T steps, never into the previous batch), reset to ``None`` at the
start of each epoch and checkpointed with the run; with ``windows`` batching,
or with a dataset of independent examples, it is reset before every batch.
``evaluate`` sets the training carry aside, starts every split from ``None``
and puts the training carry back afterwards (``set_aside``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, Literal

import torch
from pydantic import Field
from torch import Tensor, nn

from ..config import Config, validate
from ..errors import ConfigError

Columns = dict[str, Tensor]
PAD = -100  # target of a padding position: PyTorch's default ignore_index


class SequenceSpec(Config):
    """How a dataset of one long sequence per split is batched."""

    batching: Literal["windows", "stream"] = Field(
        description="windows: random windows each step; stream: contiguous rows, state carried (TBPTT)"
    )
    block: int = Field(
        ge=1, description="Positions per batch row T (back-propagation through time spans this many steps)"
    )
    column: str = Field("x", description="The column holding the sequence; batches hold its windows under the same key")
    target: str = Field("y", description="Batch key of the one-step-shifted targets")
    eval_rows: int = Field(1, ge=1, description="Parallel rows in which evaluation walks each split")
    eval_overlap: int = Field(
        0, ge=0, description="Positions each evaluation window re-reads from the previous one as context only (< block)"
    )


class SequenceSplits:
    """One stream per split, batched as ``SequenceSpec`` says; the same interface as ``InMemorySplits``."""

    def __init__(
        self,
        splits: dict[str, Columns],
        spec: SequenceSpec | dict,
        transform: Callable[[Columns], Columns] | None = None,
    ):
        self.spec = validate(SequenceSpec, spec, "the dataset's sequence()")
        if self.spec.eval_overlap >= self.spec.block:
            raise ConfigError(
                f"an evaluation overlap of {self.spec.eval_overlap} positions leaves nothing to score in windows of "
                f"{self.spec.block} (data.block): set data.eval_overlap below {self.spec.block}"
            )
        for name, columns in splits.items():
            stream = columns.get(self.spec.column)
            if stream is None or stream.dim() != 1:
                raise ConfigError(
                    f"split {name!r}: a sequence dataset stores its stream as a 1-D column {self.spec.column!r}; "
                    f"it has { ({k: tuple(v.shape) for k, v in columns.items()}) }"
                )
            if len(stream) < 2:
                raise ConfigError(
                    f"split {name!r} holds {len(stream)} positions; a sequence needs at least 2 (an input and its target)"
                )
        self.splits = splits
        self.transform = transform

    @property
    def carries_state(self) -> bool:
        return self.spec.batching == "stream"

    def __contains__(self, split: str) -> bool:
        return split in self.splits

    def stream(self, split: str) -> Tensor:
        return self.splits[split][self.spec.column]

    def size(self, split: str) -> int:
        """Predicted positions in ``split``: every element but the first is some input's target."""
        return len(self.stream(split)) - 1

    def steps_per_epoch(self, batch_size: int, drop_last: bool = False, world_size: int = 1) -> int:
        """Training batches per epoch (``epoch_order``'s length); ``drop_last`` does not apply."""
        T, rows = self.spec.block, batch_size * world_size
        if self.spec.batching == "windows":
            steps = self.size("train") // (rows * T)
        else:
            steps = (self.size("train") // rows) // T
        if steps < 1:
            raise ConfigError(
                f"the training stream has {self.size('train')} positions, fewer than one batch of "
                f"{rows} rows x {T} (trainer.batch_size x processes x data.block): lower trainer.batch_size or data.block"
            )
        return steps

    # -- training ----------------------------------------------------------------
    def epoch_order(
        self, seed: int, epoch: int, batch_size: int, drop_last: bool = False, rank: int = 0, world_size: int = 1
    ) -> list[Tensor]:
        """The start positions [B] of each training batch of one epoch, the same for a given (seed, epoch)."""
        steps, T, rows = (
            self.steps_per_epoch(batch_size, drop_last, world_size),
            self.spec.block,
            batch_size * world_size,
        )
        device = self.stream("train").device
        if self.spec.batching == "windows":
            generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
            starts = torch.randint(0, self.size("train") - T + 1, (steps, rows), generator=generator)
            return list(starts[:, rank * batch_size : (rank + 1) * batch_size].to(device))
        length = self.size("train") // rows
        row_starts = torch.arange(rank * batch_size, (rank + 1) * batch_size) * length
        return [(row_starts + k * T).to(device) for k in range(steps)]

    def gather(self, split: str, starts: Tensor, seed_step: tuple[int, int] | None = None) -> Columns:
        """The windows starting at ``starts`` and their targets (``seed_step``: streams are never augmented)."""
        s = self.stream(split)
        index = starts[:, None] + torch.arange(self.spec.block, device=starts.device)
        return self._finish({self.spec.column: s[index], self.spec.target: s[index + 1]})

    # -- evaluation ----------------------------------------------------------------
    def batches(self, split: str, batch_size: int | None = None) -> Iterator[Columns]:
        """The whole split once, in order: ``eval_rows`` rows, ``block`` positions at a time.

        ``batch_size`` (the trainer's evaluation batch size, in examples) does
        not apply: rows and block length come from the spec.

        With ``eval_overlap`` K, windows of ``block`` positions advance by
        ``block - K`` and the K positions a window shares with the previous one
        are context only (target ``PAD``).
        """
        s, R, T, K = self.stream(split), self.spec.eval_rows, self.spec.block, self.spec.eval_overlap
        n = self.size(split)
        L = -(-n // R)  # ceil: the last row may be short, and is padded
        x = torch.zeros(R * L, dtype=s.dtype, device=s.device)
        y = torch.full((R * L,), PAD, dtype=s.dtype, device=s.device)
        x[:n], y[:n] = s[:-1], s[1:]
        x, y = x.view(R, L), y.view(R, L)
        yield self._finish({self.spec.column: x[:, :T], self.spec.target: y[:, :T]})
        for t in range(T - K, L - K, T - K):
            target = y[:, t : t + T]
            if K:
                target = target.clone()
                target[:, :K] = PAD  # scored by the previous window
            yield self._finish({self.spec.column: x[:, t : t + T], self.spec.target: target})

    def _finish(self, batch: Columns) -> Columns:
        return self.transform(batch) if self.transform is not None else batch


# -- carried state ---------------------------------------------------------------
def _map(state: Any, fn: Callable[[Tensor], Tensor]) -> Any:
    if state is None:
        return None
    if isinstance(state, Tensor):
        return fn(state)
    return tuple(_map(s, fn) for s in state)


class Carry:
    """The lifetime of ``model.carry`` in training (see the module docstring)."""

    def __init__(self, model: nn.Module, data: Any):
        self.model: Any = model  # its ``carry`` (tensors, tuples of them, or None) is not in nn.Module's type
        self.active = hasattr(model, "carry")
        self.stream = self.active and bool(getattr(data, "carries_state", False))

    def before_batch(self, batch_in_epoch: int) -> None:
        """Reset at an epoch's first batch (and before every batch unless streaming), else detach."""
        if not self.active:
            return
        if not self.stream or batch_in_epoch == 0:
            self.model.carry = None
        else:
            self.model.carry = _map(self.model.carry, Tensor.detach)

    def state(self) -> Any:
        """The carry for a checkpoint (tensors and tuples of them, or None)."""
        return _map(self.model.carry, lambda t: t.detach().clone()) if self.stream else None

    def restore(self, state: Any, device: torch.device) -> None:
        if self.stream:
            self.model.carry = _map(state, lambda t: t.to(device))


def check_overlap(model: Any, data: Any) -> None:
    """Refuse overlapping evaluation windows for a model that carries its state (it would read them twice).

    ``data``: the splits, or a dataset's ``sequence()`` (a dict, or None) before they exist.
    """
    spec = getattr(data, "spec", data)
    overlap = spec.get("eval_overlap", 0) if isinstance(spec, dict) else getattr(spec, "eval_overlap", 0)
    if overlap and hasattr(model, "carry"):
        raise ConfigError(
            f"{type(model).__name__} carries its state from one evaluation window to the next, so windows that "
            f"overlap (data.eval_overlap={overlap}) would feed it {overlap} positions twice: set data.eval_overlap=0"
        )


@contextlib.contextmanager
def set_aside(model: Any, data: Any = None):  # an nn.Module, maybe with a ``carry`` attribute nn.Module's type lacks
    """Start from no carried state inside the ``with``; put the previous one back after it.

    ``data`` (the splits about to be evaluated) is checked: overlapping
    evaluation windows would feed a model that carries its state the same
    positions twice.
    """
    check_overlap(model, data)
    if not hasattr(model, "carry"):
        yield
        return
    saved, model.carry = model.carry, None
    try:
        yield
    finally:
        model.carry = saved
