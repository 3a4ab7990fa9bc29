"""Fetching a data set from the Hugging Face hub, failing fast and clearly when offline.

``datasets.load_dataset`` retries an unreachable hub for about 20 seconds
before it gives up; one quick request first tells us in well under a second.
Offline mode (``HF_DATASETS_OFFLINE`` or ``HF_HUB_OFFLINE``) still serves a
copy that ``datasets`` cached earlier.
"""

from __future__ import annotations

import datasets

import dpzoo

from .errors import DataUnavailableError

OFFLINE_VARIABLES = ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE")
TIMEOUT_S = 5.0


def load_from_hub(repo_id: str, instead: str) -> datasets.DatasetDict:
    """``datasets.load_dataset(repo_id)``, or a ``DataUnavailableError`` that ends with ``instead``."""
    offline_by_env = [name for name in OFFLINE_VARIABLES if dpzoo.env_flag(name)]
    if offline_by_env and not datasets.config.HF_HUB_OFFLINE:
        # Set after `datasets` was imported, which only reads it at import: respect it ourselves.
        raise _unavailable(repo_id, f"{'/'.join(offline_by_env)} is set", instead)
    if not datasets.config.HF_HUB_OFFLINE:
        _check_reachable(repo_id, instead)
    try:
        return datasets.load_dataset(repo_id)
    except ConnectionError as exc:  # what datasets raises offline or when the hub cannot be reached
        raise _unavailable(repo_id, str(exc), instead) from exc


def _check_reachable(repo_id: str, instead: str) -> None:
    from huggingface_hub import constants
    from huggingface_hub.utils import get_session

    try:
        get_session().head(constants.ENDPOINT, timeout=TIMEOUT_S)
    except Exception as exc:  # noqa: BLE001 - any failure to connect means: use a local copy
        raise _unavailable(repo_id, f"{constants.ENDPOINT} cannot be reached: {exc}", instead) from exc


def _unavailable(repo_id: str, reason: str, instead: str) -> DataUnavailableError:
    return DataUnavailableError(f"cannot download {repo_id!r} from the Hugging Face hub ({reason}). {instead}")
