"""Resume from the newest checkpoint that verifies.

``checkpoints/`` keeps the last few checkpoints (``step-N.json`` + ``step-N.safetensors``)
and ``last.json``, a copy of the newest record. A crash, a full disk or a bad
sector may leave ``last.json`` unreadable or its tensors file corrupt; the
previous checkpoints kept beside it are then still good. Candidates are tried
newest first: ``last.json``, then each ``step-N.json`` by decreasing ``N``. A
candidate verifies when its JSON parses, its tensors file exists and the file's
sha256 matches the record (the whole file is hashed). Every candidate passed
over is reported, so a fallback never happens silently.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ..errors import DpzooError, IntegrityError
from ..files import sha256_file
from .checkpoint import LAST, join_state

_RECORD = re.compile(r"step-(\d+)\.json$")


class NoCheckpoint(DpzooError):
    """A run directory without any checkpoint record."""


def candidates(directory: Path) -> list[Path]:
    """Checkpoint records, newest first: ``last.json``, then ``step-N.json`` by decreasing ``N``."""
    if not directory.is_dir():
        return []
    steps = sorted(((int(m.group(1)), p) for p in directory.iterdir() if (m := _RECORD.match(p.name))), reverse=True)
    last = directory / LAST
    return ([last] if last.exists() else []) + [p for _, p in steps]


def parse_record(path: Path) -> dict[str, Any]:
    """A checkpoint record's JSON, with the fields every record has."""
    try:
        record = json.loads(path.read_bytes())
        record["step"] = int(record["step"])
        record["tensors"], record["sha256"]  # noqa: B018 - both must be present
    except (ValueError, KeyError, TypeError) as exc:
        raise IntegrityError(f"{path.name} is not a readable checkpoint record ({type(exc).__name__}: {exc})") from None
    return record


def verify(directory: Path, record: dict[str, Any]) -> Path:
    """The record's tensors file, after checking that it exists and hashes to the recorded sha256."""
    tensor_path = directory / record["tensors"]
    if not tensor_path.is_file():
        raise IntegrityError(f"checkpoint tensors {tensor_path} are missing")
    actual = sha256_file(tensor_path)
    if actual != record["sha256"]:
        raise IntegrityError(
            f"checkpoint {tensor_path} is corrupt: sha256 {actual} does not match the recorded {record['sha256']}"
        )
    return tensor_path


def load_newest(directory: Path, map_location: Any = "cpu") -> tuple[int, Any, list[str]]:
    """(step, state, the candidates passed over and why) of the newest checkpoint that verifies."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    found = candidates(directory)
    if not found:
        raise NoCheckpoint(f"no checkpoint in {directory}; nothing to resume")
    skipped: list[str] = []
    tried: set[str] = set()
    for path in found:
        try:
            record = parse_record(path)
            if record["tensors"] in tried:  # last.json and its step file name the same tensors
                continue
            tried.add(record["tensors"])
            tensors = load_file(str(verify(directory, record)), device=str(map_location))
        except (IntegrityError, OSError, SafetensorError) as exc:
            skipped.append(f"{path.name}: {exc}")
            continue
        return record["step"], join_state(record["state"], tensors), skipped
    raise IntegrityError(f"no checkpoint in {directory} verifies: " + "; ".join(skipped))


def load_checkpoint(directory: Path, map_location: Any = "cpu") -> tuple[int, Any]:
    """(step, state) of the newest checkpoint in ``directory`` that verifies."""
    step, state, _ = load_newest(directory, map_location)
    return step, state
