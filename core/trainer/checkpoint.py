"""Atomic safetensors checkpoints.

A checkpoint is two files in ``RUN/checkpoints/``: ``step-NNNNNNNN.safetensors``
holding every tensor (model, optimiser state, RNG states) and
``step-NNNNNNNN.json`` holding the rest (step, epoch, position in the epoch,
scheduler states, the file's sha256). Each is written to a temporary file,
flushed and renamed into place; ``last.json`` is replaced last, so a crash at
any moment leaves the previous checkpoint whole and pointed to. Nothing is
ever unpickled. Reading them back, newest verified first, is ``recovery``'s.
"""

from __future__ import annotations

import json
import re
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
def save_checkpoint(directory: Path, step: int, state: Any, keep: int = 2) -> Path:
    """Write ``state`` (nested dicts of tensors and JSON values) as checkpoint ``step``."""
    directory.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, Tensor] = {}
    skeleton = split_state("state", state, tensors)
    stem = f"step-{step:08d}"
    tensor_path = directory / f"{stem}.safetensors"
    atomic_save_tensors(tensors, tensor_path)
    record = {"step": step, "tensors": tensor_path.name, "sha256": sha256_file(tensor_path), "state": skeleton}
    text = json.dumps(record, separators=(",", ":")).encode()
    atomic_write_bytes(directory / f"{stem}.json", text)
    atomic_write_bytes(directory / LAST, text)
    _prune(directory, keep)
    return tensor_path


def _prune(directory: Path, keep: int) -> None:
    steps = sorted({int(m.group(1)) for p in directory.iterdir() if (m := _STEP_FILE.match(p.name))})
    for old in steps[:-keep]:
        for suffix in ("safetensors", "json"):
            (directory / f"step-{old:08d}.{suffix}").unlink(missing_ok=True)

