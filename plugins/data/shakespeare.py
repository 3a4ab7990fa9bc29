"""tiny-shakespeare: 1,115,394 characters of Shakespeare's plays (the char-rnn and nanoGPT corpus).

Split in order: the first 90% of the characters are the training split, the
next 5% validation, the last 5% test (1,003,854 / 55,770 / 55,770).

The text comes from the first of:

1. ``path`` in the config (the ``input.txt`` file, or a folder holding it);
2. ``$DPZOO_DATA_DIR/tinyshakespeare/input.txt``;
3. the Hugging Face hub, ``karpathy/tiny_shakespeare`` (its three splits
   joined again in order, then split as above).
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field

from .errors import DataUnavailableError
from .text import TextConfig, TextCorpus, read_text, split_in_order

FILE = "input.txt"
FOLDER = "tinyshakespeare"
HUB_ID = "karpathy/tiny_shakespeare"
DATA_DIR_VARIABLE = "DPZOO_DATA_DIR"


class ShakespeareConfig(TextConfig):
    path: str | None = Field(
        None, description=f"tiny-shakespeare's {FILE} (or its folder); unset: $DPZOO_DATA_DIR/{FOLDER}, then the hub"
    )


class TinyShakespeare(TextCorpus):
    """tiny-shakespeare as character ids, 90/5/5 in order."""

    Config = ShakespeareConfig
    license = "public domain"

    def texts(self) -> dict[str, str]:
        path = self.local_file()
        if path is not None:
            text, source = read_text(path), str(path)
        else:
            from .hub import load_from_hub

            hub = load_from_hub(HUB_ID, instead=self.how_to_provide())
            text = "".join("".join(hub[split]["text"]) for split in ("train", "validation", "test"))
            source = f"https://huggingface.co/datasets/{HUB_ID}"
        self.description = f"tiny-shakespeare from {source}; characters split in order 90% / 5% / 5%"
        return split_in_order(text)

    def local_file(self) -> Path | None:
        if self.config.path is not None:
            path = Path(self.config.path).expanduser()
            path = path / FILE if path.is_dir() else path
            if not path.is_file():
                raise DataUnavailableError(
                    f"data.path is {self.config.path}, but {path} does not exist; unset it to use ${DATA_DIR_VARIABLE} or the hub"
                )
            return path
        data_dir = os.environ.get(DATA_DIR_VARIABLE)
        if data_dir and (Path(data_dir).expanduser() / FOLDER / FILE).is_file():
            return Path(data_dir).expanduser() / FOLDER / FILE
        return None

    def how_to_provide(self) -> str:
        return (
            f"To use a local copy, set data.path to tiny-shakespeare's {FILE} or put it in ${DATA_DIR_VARIABLE}/{FOLDER}/; "
            "or go online (with HF_DATASETS_OFFLINE and HF_HUB_OFFLINE unset) to download it from the hub."
        )
