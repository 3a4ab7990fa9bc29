"""pysrc: the Python standard library's own ``.py`` files, as one corpus of code.

Every Python install has them, so no download is needed. The files under the
standard library's folder (``sysconfig.get_paths()["stdlib"]``), without
``site-packages`` and without the test suites (folders named ``test`` or
``tests``), are sorted by relative path and shuffled with
``numpy.random.RandomState(seed)``; the first 90% of the files form the
training split, the next 5% validation, the rest test, each the files'
texts joined in that order. Splitting by file keeps any one module out of two
splits. Files that are not UTF-8 are left out. The corpus depends on the
Python version, so a run's split fingerprints (on every card) name exactly
which files it saw.
"""

from __future__ import annotations

import sysconfig
from pathlib import Path

import numpy as np
from pydantic import Field

from .errors import DataFormatError
from .text import TextConfig, TextCorpus, read_text

LEFT_OUT = {"site-packages", "test", "tests", "__pycache__"}


class PySrcConfig(TextConfig):
    seed: int = Field(0, description="Seed of the shuffle that assigns files to splits")
    root: str | None = Field(None, description="Folder of .py files to use instead of the standard library")


def source_files(root: Path) -> list[Path]:
    """The ``.py`` files under ``root``, sorted by relative path, outside ``LEFT_OUT`` folders."""
    return sorted(
        (p for p in root.rglob("*.py") if p.is_file() and not LEFT_OUT & set(p.relative_to(root).parts[:-1])),
        key=lambda p: p.relative_to(root).as_posix(),
    )


class PySrc(TextCorpus):
    """Python's standard library source, split 90/5/5 by file with a fixed seed."""

    Config = PySrcConfig
    license = "PSF-2.0"

    def texts(self) -> dict[str, str]:
        root = Path(self.config.root or sysconfig.get_paths()["stdlib"]).expanduser()
        texts = []
        for path in source_files(root):
            try:
                texts.append(read_text(path))
            except DataFormatError:  # an empty __init__.py, or a deliberately non-UTF-8 module: nothing to learn
                continue
        if len(texts) < 3:
            raise DataFormatError(
                f"{root} holds {len(texts)} readable .py files; pysrc needs at least 3 (one per split)"
            )
        order = np.random.RandomState(self.config.seed).permutation(len(texts))
        a, b = int(len(texts) * 0.9), int(len(texts) * 0.95)
        parts = {"train": order[:a], "validation": order[a:b], "test": order[b:]}
        self.description = (
            f"{len(texts)} .py files of {root}, shuffled with RandomState({self.config.seed}), split 90/5/5 by file"
        )
        return {name: "".join(texts[i] for i in index) for name, index in parts.items()}
