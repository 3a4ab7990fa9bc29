"""Text corpora as character streams (for chapter 12's character language models).

Each split is one long stream of character ids, stored as a column ``x`` with
one int64 id per row, in reading order. The vocabulary is the sorted set of
the *training* split's characters (ids 1..V; id 0 stands for any character
the training split lacks, see ``vocabulary.py``); ``info()`` hands it to the
model, which keeps it in its config and on its card.

Batches are not independent rows: ``sequence()`` asks the trainer to cut
windows of ``block`` characters from the stream (input x(t..t+T-1), target
x(t+1..t+T)), either at random (``windows``) or as contiguous rows that
continue from batch to batch (``stream``, truncated back-propagation through
time); evaluation walks each split once, in order. See dpzoo's
``trainer/sequences.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import datasets
from pydantic import Field, model_validator

import dpzoo
from dpzoo.tables import to_dataset

from .errors import DataFormatError, DataUnavailableError
from .vocabulary import Vocabulary

FEATURES = datasets.Features({"x": datasets.Value("int64")})
SPLITS = ("train", "validation", "test")


class TextConfig(dpzoo.Config):
    block: int = Field(
        64, ge=1, description="Characters per batch row T: back-propagation through time spans this many steps"
    )
    batching: Literal["stream", "windows"] = Field(
        "stream",
        description="stream: contiguous rows carrying the model's state (TBPTT); windows: random windows each step",
    )
    eval_rows: int = Field(
        1, ge=1, description="Parallel rows an evaluation walks each split in (1: one unbroken pass)"
    )
    eval_overlap: int = Field(
        0,
        ge=0,
        description="Characters each evaluation window re-reads from the last as context only (< block), so a "
        "fixed-context model predicts every character from at least this many; models that carry state need 0",
    )

    @model_validator(mode="after")
    def _overlap_leaves_something_to_score(self):
        if self.eval_overlap >= self.block:
            raise ValueError(
                f"eval_overlap ({self.eval_overlap}) must be below block ({self.block}): an evaluation window "
                f"re-reading {self.eval_overlap} positions would score none; set data.eval_overlap below {self.block}"
            )
        return self


class TextCorpus(dpzoo.Dataset):
    """Base for text sets: subclasses return each split's text from ``texts()``."""

    Config = TextConfig
    columns = ("x",)
    default_loss = "cross_entropy"
    default_metrics = ("bits_per_char",)
    description = "text"
    license = ""

    def texts(self) -> dict[str, str]:  # pragma: no cover - interface
        raise NotImplementedError

    def load(self) -> datasets.DatasetDict:
        texts = self.texts()
        self.vocabulary = Vocabulary.of(texts["train"])
        return datasets.DatasetDict(
            {
                name: to_dataset(
                    {"x": self.vocabulary.encode(texts[name])},
                    FEATURES,
                    description=self.description,
                    license=self.license,
                )
                for name in SPLITS
            }
        )

    def info(self) -> dict:
        if not hasattr(self, "vocabulary"):
            raise dpzoo.ConfigError(f"{type(self).__name__}.info() needs the vocabulary: call load() first")
        return {"vocabulary": self.vocabulary.chars}

    def sequence(self) -> dict:
        c = self.config
        return {
            "batching": c.batching,
            "block": c.block,
            "column": "x",
            "target": "y",
            "eval_rows": c.eval_rows,
            "eval_overlap": c.eval_overlap,
        }


def split_in_order(text: str, train: float = 0.9, validation: float = 0.05) -> dict[str, str]:
    """The first ``train`` of the characters, the next ``validation``, the rest (no shuffling: text is a sequence)."""
    n = len(text)
    a, b = int(n * train), int(n * (train + validation))
    return {"train": text[:a], "validation": text[a:b], "test": text[b:]}


def read_text(path: Path) -> str:
    """A UTF-8 text file, or an error that names the file and says what is wrong with it."""
    raw = path.read_bytes()
    if not raw.strip():
        raise DataFormatError(
            f"{path} is empty: a language model needs text to learn from; point data.path at a text file"
        )
    if b"\x00" in raw:
        raise DataFormatError(f"{path} looks binary (it holds NUL bytes); point data.path at a UTF-8 text file")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataFormatError(
            f"{path} is not UTF-8 text (byte {exc.start}: {raw[exc.start : exc.start + 1]!r}); convert it with iconv or choose another file"
        ) from None


class LocalTextConfig(TextConfig):
    path: str = Field(
        ..., description="A UTF-8 text file, or a folder whose *.txt files (sorted by path) are read in turn"
    )
    pattern: str = Field("*.txt", description="Files read from a folder (glob, searched recursively)")
    train: float = Field(
        0.9, gt=0, lt=1, description="Fraction of the characters, from the start, in the training split"
    )
    validation: float = Field(
        0.05, gt=0, lt=1, description="Fraction after it in the validation split; the rest is the test split"
    )


class LocalText(TextCorpus):
    """Any local text: one file, or a folder of files read in sorted order; split in order."""

    Config = LocalTextConfig

    def texts(self) -> dict[str, str]:
        c = self.config
        if c.train + c.validation >= 1:
            raise dpzoo.ConfigError(
                f"data.train + data.validation must be < 1 to leave a test split, got {c.train} + {c.validation}"
            )
        path = Path(c.path).expanduser()
        if path.is_dir():
            files = sorted(p for p in path.rglob(c.pattern) if p.is_file())
            if not files:
                raise DataUnavailableError(
                    f"{path} holds no files matching {c.pattern!r}; set data.pattern or point data.path at a file"
                )
            text = "".join(read_text(p) for p in files)
        elif path.is_file():
            text = read_text(path)
        else:
            raise DataUnavailableError(f"data.path {str(path)!r} is neither a file nor a folder")
        self.description = f"text from {path}, split in order {c.train}/{c.validation}/{1 - c.train - c.validation:.2f}"
        splits = split_in_order(text, c.train, c.validation)
        short = [name for name, part in splits.items() if len(part) < 2]  # a split needs an input and its target
        if short:
            raise DataFormatError(
                f"{path} holds {len(text)} characters: too few for a {', '.join(short)} split of at least 2; give it more text"
            )
        return splits
