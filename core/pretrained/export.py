"""``dpzoo zoo export NAME DIR [--push OWNER/REPO]``: a folder the Hugging Face Hub takes as it is.

The folder holds the entry's ``.safetensors`` file (the very bytes that were
hash-checked on reading it) and a ``README.md`` in the Hub's model card format
(``hubcard.markdown``). ``--push`` uploads the folder with ``huggingface_hub``
and prints the ``hf://`` URL, pinned to the upload's commit, that a plugin or
index row can then register.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from ..env import env_flag
from ..errors import DpzooError
from ..files import atomic_write_bytes
from . import hubcard, sources
from .card import ModelCard, card_from_header
from .safetensors_file import parse_header

README = "README.md"


@dataclass(frozen=True)
class Exported:
    card: ModelCard
    file: str  # the weight file's name in the folder
    data: bytes
    readme: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def exported(name: str) -> Exported:
    """An entry (``arch.tag``) or a local ``.safetensors`` file with a card: its checked bytes and Hub README."""
    from .entries import resolve
    from .loading import _check_tensors, verified

    if name.endswith(".safetensors") and Path(name).is_file():
        data = Path(name).read_bytes()
        header = parse_header(data, len(data), name)
        card = card_from_header(header)
        _check_tensors(data, header, card)
    else:
        checked = verified(resolve(name))
        data, card = bytes(checked.data), checked.card
    file = f"{card.name}.safetensors"
    return Exported(card, file, data, hubcard.markdown(card, file, hashlib.sha256(data).hexdigest(), len(data)))


def export(name: str, out_dir: str | os.PathLike) -> Exported:
    """Write ``out_dir/arch.tag.safetensors`` and ``out_dir/README.md`` (the folder is created if needed)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result = exported(name)
    atomic_write_bytes(out / result.file, result.data)
    atomic_write_bytes(out / README, result.readme.encode())
    return result


def push(out_dir: str | os.PathLike, repo_id: str, file: str) -> str:
    """Upload ``out_dir`` to the Hub model repository ``repo_id`` (created if missing): the pinned ``hf://`` URL of ``file``."""
    for flag in ("DPZOO_OFFLINE", "HF_HUB_OFFLINE"):
        if env_flag(flag):
            raise sources.OfflineError(
                f"cannot push to {repo_id}: {flag} is set; unset it and run again with a Hub token "
                f"(`hf auth login` or HF_TOKEN), or upload {out_dir} yourself"
            )
    if repo_id.count("/") != 1 or "" in repo_id.split("/"):
        raise DpzooError(f"--push expects OWNER/REPO, got {repo_id!r}")
    from huggingface_hub import HfApi

    api = HfApi(endpoint=os.environ.get("HF_ENDPOINT") or None, library_name="dpzoo")
    try:
        api.create_repo(repo_id, repo_type="model", exist_ok=True)
        commit = api.upload_folder(
            folder_path=Path(out_dir), repo_id=repo_id, repo_type="model", commit_message=f"dpzoo zoo export: {file}"
        )
    except Exception as exc:  # huggingface_hub's HTTP and authentication errors say what went wrong
        raise DpzooError(
            f"cannot push {out_dir} to {repo_id}: {type(exc).__name__}: {exc}. Check the connection, HF_ENDPOINT "
            "and your token (`hf auth login`)"
        ) from exc
    return f"{hub_url(repo_id, file)}@{commit.oid}"


def hub_url(repo_id: str, file: str) -> str:
    return f"hf://{repo_id}/{file}"
