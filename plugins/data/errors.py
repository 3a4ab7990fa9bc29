"""The errors of dpzoo's data sets: each names the file or the source and says what to do."""

from __future__ import annotations

import dpzoo


class DataFormatError(dpzoo.DpzooError, ValueError):
    """A data file that is not what its name says (a corrupt or truncated download, say)."""


class DataUnavailableError(dpzoo.DpzooError, FileNotFoundError):
    """A data set that is neither on disk nor reachable on the Hugging Face hub."""
