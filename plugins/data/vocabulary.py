"""A character vocabulary: characters to integer ids and back.

Id 0 is reserved for characters the vocabulary does not know; the known
characters take ids 1..V in the order of ``chars`` (sorted when built from a
text), so a model with V known characters has V + 1 classes. A vocabulary is
stored as the plain string ``chars`` (in a model's config, on its card), which
is all a loaded model needs to encode a prime and decode its samples.
"""

from __future__ import annotations

import numpy as np

import dpzoo

UNKNOWN = 0  # the id of every character outside the vocabulary
UNKNOWN_MARK = "\N{REPLACEMENT CHARACTER}"  # how the unknown id decodes


class Vocabulary:
    """Maps the characters of ``chars`` to ids 1..V; anything else to ``UNKNOWN``."""

    def __init__(self, chars: str):
        if len(set(chars)) != len(chars):
            raise dpzoo.ConfigError(f"a vocabulary lists each character once; {chars!r} repeats some")
        self.chars = chars
        self.ids = {c: i + 1 for i, c in enumerate(chars)}

    @classmethod
    def of(cls, text: str) -> Vocabulary:
        """The sorted set of characters in ``text``."""
        return cls("".join(sorted(set(text))))

    def __len__(self) -> int:
        """Classes a model predicts: every known character plus the unknown id."""
        return len(self.chars) + 1

    def encode(self, text: str) -> np.ndarray:
        """int64 ids of ``text``; unknown characters become ``UNKNOWN``."""
        return np.fromiter((self.ids.get(c, UNKNOWN) for c in text), dtype=np.int64, count=len(text))

    def encode_strict(self, text: str, what: str = "text") -> np.ndarray:
        """int64 ids of ``text``, or an error naming every character the vocabulary lacks."""
        unknown = sorted({c for c in text if c not in self.ids})
        if unknown:
            raise dpzoo.ConfigError(
                f"{what} has characters outside the model's vocabulary of {len(self.chars)}: "
                f"{', '.join(map(repr, unknown))}; use only these: {self.chars!r}"
            )
        return self.encode(text)

    def decode(self, ids) -> str:
        return "".join(self.chars[i - 1] if i > 0 else UNKNOWN_MARK for i in np.asarray(ids).reshape(-1).tolist())
