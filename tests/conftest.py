"""Shared fixtures: the repository root, the shared offline data, quiet plugin warnings."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (full MNIST, tiny-shakespeare); tests that need it skip without it."""
    if not (SHARED_DATA / "mnist").is_dir():
        pytest.skip(f"offline data not found at {SHARED_DATA} (see the README's data section)")
    return SHARED_DATA


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT, timeout: float = 600):
    """Run ``python -m dpzoo.cli ARGS`` in a subprocess; returns the CompletedProcess."""
    import subprocess

    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "dpzoo.cli", *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout
    )
