"""Atomic safetensors checkpoints.

A checkpoint is two files in ``RUN/checkpoints/``: ``step-NNNNNNNN.safetensors``
holding every tensor (model, optimiser state, RNG states) and
``step-NNNNNNNN.json`` holding the rest (step, epoch, position in the epoch,
scheduler states, the file's sha256). Each is written to a temporary file,
flushed and renamed into place; ``last.json`` is replaced last, so a crash at
any moment leaves the previous checkpoint whole and pointed to. Nothing is
ever unpickled. Reading them back, newest verified first, is ``recovery``'s.

The trainer takes a ``snapshot`` on the training thread (every tensor copied to
the CPU, so later steps cannot change it) and hands it to a background thread
for ``write_snapshot``: serialising, hashing and the fsyncs overlap training.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import Tensor

from ..files import atomic_save_tensors, atomic_write_bytes, sha256_file

LAST = "last.json"
_STEP_FILE = re.compile(r"step-(\d+)\.(safetensors|json)$")


# -- optimiser state <-> (tensors, json) ----------------------------------------
def split_state(prefix: str, state: Any, tensors: dict[str, Tensor]) -> Any:
    """Replace every tensor inside ``state`` by a reference, moving it into ``tensors``."""
    if isinstance(state, Tensor):
        key = prefix
        tensors[key] = state
        return {"__tensor__": key}
    if isinstance(state, dict):
        return {"__dict__": [[k, split_state(f"{prefix}.{k}", v, tensors)] for k, v in state.items()]}
    if isinstance(state, (list, tuple)):
        items = [split_state(f"{prefix}.{i}", v, tensors) for i, v in enumerate(state)]
        return {"__tuple__": items} if isinstance(state, tuple) else items
    if state is None or isinstance(state, (bool, int, float, str)):
        return state
    raise TypeError(f"cannot checkpoint a {type(state).__name__} at {prefix!r}; keep state to tensors and JSON values")


def join_state(state: Any, tensors: dict[str, Tensor]) -> Any:
    if isinstance(state, dict):
        if "__tensor__" in state:
            return tensors[state["__tensor__"]]
        if "__tuple__" in state:
            return tuple(join_state(v, tensors) for v in state["__tuple__"])
        return {k: join_state(v, tensors) for k, v in state["__dict__"]}
    if isinstance(state, list):
        return [join_state(v, tensors) for v in state]
    return state


# -- checkpoints ---------------------------------------------------------------
@dataclass(frozen=True)
class Snapshot:
    """A checkpoint's content, copied: nothing in it changes when training goes on."""

    step: int
    skeleton: Any
    tensors: dict[str, Tensor]


def snapshot(step: int, state: Any) -> Snapshot:
    """Copy ``state``'s tensors to the CPU (on the training thread: later steps change the originals)."""
    tensors: dict[str, Tensor] = {}
    skeleton = split_state("state", state, tensors)
    copies = {k: v.detach().to("cpu", copy=True).contiguous() for k, v in tensors.items()}
    return Snapshot(step, skeleton, copies)


def write_snapshot(directory: Path, taken: Snapshot, keep: int = 2) -> Path:
    """Write a snapshot as checkpoint ``taken.step``: tensors, its record, then ``last.json``; prune old ones."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"step-{taken.step:08d}"
    tensor_path = directory / f"{stem}.safetensors"
    atomic_save_tensors(taken.tensors, tensor_path)
    record = {
        "step": taken.step,
        "tensors": tensor_path.name,
        "sha256": sha256_file(tensor_path),
        "state": taken.skeleton,
    }
    text = json.dumps(record, separators=(",", ":")).encode()
    atomic_write_bytes(directory / f"{stem}.json", text)
    atomic_write_bytes(directory / LAST, text)
    _prune(directory, keep)
    return tensor_path


def checkpoint_path(directory: Path, step: int) -> Path:
    """The tensors file of checkpoint ``step`` (written whole, or not at all)."""
    return directory / f"step-{step:08d}.safetensors"


def save_checkpoint(directory: Path, step: int, state: Any, keep: int = 2) -> Path:
    """Write ``state`` (nested dicts of tensors and JSON values) as checkpoint ``step``, on this thread."""
    return write_snapshot(directory, snapshot(step, state), keep)


def _prune(directory: Path, keep: int) -> None:
    steps = sorted({int(m.group(1)) for p in directory.iterdir() if (m := _STEP_FILE.match(p.name))})
    for old in steps[:-keep]:
        for suffix in ("safetensors", "json"):
            (directory / f"step-{old:08d}.{suffix}").unlink(missing_ok=True)
