"""Shared helpers: the repository root, the offline MNIST copy, running the CLI."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR_VARIABLE = "DPZOO_DATA_DIR"  # what the MNIST data plugin reads too
MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """``$DPZOO_DATA_DIR``, the offline data (MNIST, tiny-shakespeare); a test that needs it skips, saying why, without it."""
    data_dir = os.environ.get(DATA_DIR_VARIABLE)
    if not data_dir:
        pytest.skip(
            f"{DATA_DIR_VARIABLE} is not set: tests of the offline data read it (see the README's data section)"
        )
    return Path(data_dir).expanduser()


@pytest.fixture(scope="session")
def mnist_dir(data_dir: Path) -> Path:
    """``$DPZOO_DATA_DIR/mnist`` with MNIST's four IDX files; a test that needs it skips, saying why, without it."""
    path = data_dir / "mnist"
    missing = [name for name in MNIST_FILES if not (path / name).is_file()]
    if missing:
        pytest.skip(f"{path} lacks {', '.join(missing)} (see the README's data section)")
    return path


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT, timeout: float = 600):
    """Run ``python -m dpzoo.cli ARGS`` in a subprocess; returns the CompletedProcess."""
    import subprocess

    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "dpzoo.cli", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def train_under_torchrun(*args: str, processes: int = 2):
    """Run ``tools/train.py ARGS`` as ``processes`` processes under torchrun, one thread each; the CompletedProcess."""
    import subprocess

    return subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc_per_node={processes}",
            str(ROOT / "tools/train.py"),
            *args,
        ],
        cwd=ROOT,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
