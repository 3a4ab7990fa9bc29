"""What the zoo's tests share: a damageable copy of the zoo, a cache, plugins that register weights, servers."""

from __future__ import annotations

import hashlib
import http.server
import json
import shutil
import threading
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save

import dpzoo
from dpzoo.files import sha256_file
from dpzoo.pretrained import entries
from dpzoo.pretrained.card import read_card
from dpzoo.pretrained.safetensors_file import parse_header, tensors_sha256

ZOO = entries.zoo_dir()
INDEX = json.loads((ZOO / "index.json").read_text())["entries"]
SHIPPED = sorted(INDEX)


@pytest.fixture
def zoo_copy(tmp_path, monkeypatch) -> Path:
    """A copy of the shipped zoo that the test may damage; ``dpzoo`` reads it instead."""
    copy = tmp_path / "zoo"
    shutil.copytree(ZOO, copy, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    monkeypatch.setattr(entries, "zoo_dir", lambda: copy)
    return copy


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "cache"
    monkeypatch.setenv("DPZOO_CACHE", str(path))
    monkeypatch.delenv("DPZOO_OFFLINE", raising=False)
    return path


class Plugin:
    """A third-party plugin that registers pretrained weights at a URL."""

    def __init__(self, *entries):
        self.entries = entries

    @dpzoo.hookimpl
    def dpzoo_register_pretrained(self, register):
        for name, url, info in self.entries:
            register(name, url, **info)


@pytest.fixture
def plugin():
    names = []

    def add(*entries):
        name = f"test-zoo-{len(names)}"
        dpzoo.register_plugin(Plugin(*entries), name)
        names.append(name)
        return name

    yield add
    for name in names:
        dpzoo.unregister_plugin(name)


def flip_byte(path: Path, offset_from_end: int = 100) -> None:
    """Flip one byte near the end (inside the last tensor), keeping the size."""
    data = bytearray(path.read_bytes())
    data[-offset_from_end] ^= 0xFF
    path.write_bytes(bytes(data))


def tensors_digest(path: Path) -> str:
    data = path.read_bytes()
    return tensors_sha256(parse_header(data, len(data), path), data)


def write_entry(path: Path, name: str, source: Path, **changes) -> Path:
    """A copy of ``source``'s weights whose card is renamed ``name`` (a third party's weights, say)."""
    tensors = load_file(str(source))
    card = read_card(source).model_copy(update={"name": name, **changes})
    path.write_bytes(save(tensors, metadata=card.to_metadata()))
    return path


def replace_entry(
    zoo: Path, entry: str, tensors: dict[str, torch.Tensor], card_from: str | None = None, row=None, **changes
) -> Path:
    """Put ``tensors`` in ``zoo``'s file for ``entry`` with a consistent card and index row, except for ``changes``.

    The card is ``card_from``'s (default: ``entry``'s own), its ``weights_sha256``
    that of ``tensors``; the index row records the new file's sha256 and size
    and, as ``dpzoo zoo publish`` writes it, the card's ``weights_sha256``
    (``row`` overrides the row's fields, e.g. ``{"weights_sha256": None}``).
    """
    unsigned = save(tensors)
    card = read_card(ZOO / INDEX[card_from or entry]["file"])
    card = card.model_copy(
        update={"weights_sha256": tensors_sha256(parse_header(unsigned, len(unsigned), "x"), unsigned), **changes}
    )
    path = zoo / INDEX[entry]["file"]
    path.write_bytes(save(tensors, metadata=card.to_metadata()))
    reindex(zoo, entry, **{"weights_sha256": card.weights_sha256, **(row or {})})
    return path


def reindex(zoo: Path, name: str, **row) -> None:
    """Make ``zoo``'s index row for ``name`` vouch for its file as it is now (and for ``row``'s values)."""
    index = json.loads((zoo / "index.json").read_text())
    path = zoo / index["entries"][name]["file"]
    index["entries"][name].update(sha256=sha256_file(path), size=path.stat().st_size, **row)
    (zoo / "index.json").write_text(json.dumps(index))


def same_weights(a: torch.nn.Module, b: dict[str, torch.Tensor]) -> bool:
    state = a.state_dict()
    return state.keys() == b.keys() and all(torch.equal(state[k], b[k]) for k in state)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class LocalServer:
    """An HTTP server on 127.0.0.1 with ``handler``, serving on a thread while the ``with`` block runs."""

    def serve(self, handler: type[http.server.BaseHTTPRequestHandler]) -> None:
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.httpd.timeout = 5
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


class Server(LocalServer):
    """An HTTP server on 127.0.0.1 that counts the requests it answers.

    It serves ``directory``'s files, or answers every GET with ``respond(handler)``.
    """

    def __init__(self, directory: Path | None = None, respond=None):
        self.requests: list[str] = []
        outer = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(directory or "."), **kwargs)

            def do_GET(self):
                outer.requests.append(self.path)
                if respond is None:
                    super().do_GET()
                else:
                    respond(self)

            def log_message(self, *args):
                pass

        self.serve(Handler)

    def url(self, name: str) -> str:
        return f"{self.endpoint}/{name}"
