"""Weights from the Hugging Face Hub (``hf://OWNER/REPO/FILE@COMMIT``), tried against a Hub on 127.0.0.1.

The server answers the two requests ``huggingface_hub.hf_hub_download`` makes
for a file: a HEAD of ``/OWNER/REPO/resolve/COMMIT/FILE`` (the headers it reads:
``X-Repo-Commit``, ``ETag``, ``Content-Length``) and a GET of the same path.
"""

from __future__ import annotations

import http.server
import json
import time
from pathlib import Path

import pytest
from safetensors.torch import load_file
from zoo_helpers import INDEX, ZOO, LocalServer, cache, plugin, same_weights, write_entry, zoo_copy  # noqa: F401 - fixtures

import dpzoo
from dpzoo.errors import DpzooError, IntegrityError
from dpzoo.files import sha256_file
from dpzoo.pretrained import sources

COMMIT = "0123456789abcdef0123456789abcdef01234567"
REPO, FILE = "someone/digits", "mlp.served.safetensors"
URL = f"hf://{REPO}/{FILE}@{COMMIT}"
pytestmark = pytest.mark.timeout(60)


class Hub(LocalServer):
    """The Hub's download endpoints on 127.0.0.1: ``files`` maps ``/REPO/resolve/COMMIT/FILE`` to bytes."""

    def __init__(self, files: dict[str, bytes], announce: int | None = None, drip: float = 0.0):
        self.requests: list[tuple[str, str]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def answer(self, body: bool) -> None:
                outer.requests.append((self.command, self.path))
                data = files.get(self.path)
                if data is None:
                    self.send_response(404)
                    self.send_header("X-Error-Code", "EntryNotFound")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("ETag", f'"{sha256_bytes(data)}"')
                self.send_header("Content-Length", str(announce or len(data)))
                self.end_headers()
                if body:
                    try:
                        if drip:  # one byte every `drip` seconds, 60 bytes at most: then it stops by itself
                            for byte in data[:60]:
                                self.wfile.write(bytes([byte]))
                                self.wfile.flush()
                                time.sleep(drip)
                        else:
                            self.wfile.write(data)
                    except OSError:  # the client hung up: refused the announced length, or gave up
                        pass

            def do_HEAD(self):
                self.answer(body=False)

            def do_GET(self):
                self.answer(body=True)

            def log_message(self, *args):
                pass

        self.serve(Handler)


def sha256_bytes(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def weights(tmp_path, monkeypatch, cache) -> Path:
    """A card-carrying file for the Hub to serve; proxies bypassed, both offline switches off."""
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "127.0.0.1")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    # huggingface_hub reads HF_HUB_OFFLINE once, at import: a test that imported it with the variable set
    # (tests/test_zoo.py sets it) would leave it offline for good
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    return write_entry(tmp_path / FILE, "mlp.served", ZOO / INDEX["mlp.digits"]["file"])


def serve(weights: Path, monkeypatch, data: bytes | None = None, **kwargs) -> Hub:
    hub = Hub({f"/{REPO}/resolve/{COMMIT}/{FILE}": weights.read_bytes() if data is None else data}, **kwargs)
    monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
    return hub


def register(plugin, weights: Path, url: str = URL) -> None:
    plugin(("mlp.served", url, {"sha256": sha256_file(weights), "size": weights.stat().st_size}))


def test_an_hf_entry_is_downloaded_from_the_hub_verified_and_loads_offline_afterwards(
    plugin, weights, cache, monkeypatch
):
    register(plugin, weights)
    with serve(weights, monkeypatch) as hub:
        model = dpzoo.create_model("mlp.served", pretrained=True)
    assert same_weights(model, load_file(str(weights)))
    path = f"/{REPO}/resolve/{COMMIT}/{FILE}"
    assert ("HEAD", path) in hub.requests and ("GET", path) in hub.requests
    assert [p.name for p in (cache / "pretrained").iterdir()] == [f"{sha256_file(weights)}.safetensors"]

    monkeypatch.setenv("DPZOO_OFFLINE", "1")  # the server is gone too: the cached copy is re-hashed and loads
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert same_weights(dpzoo.create_model("mlp.served", pretrained=True), load_file(str(weights)))
    assert dpzoo.model_card("mlp.served").name == "mlp.served"


def test_a_wrong_file_from_the_hub_is_refused_naming_the_file_and_its_hash(plugin, weights, cache, monkeypatch):
    register(plugin, weights)
    tampered = bytearray(weights.read_bytes())
    tampered[-100] ^= 0xFF  # same size, other bytes
    with serve(weights, monkeypatch, data=bytes(tampered)):
        with pytest.raises(IntegrityError) as caught:
            dpzoo.create_model("mlp.served", pretrained=True)
    message = str(caught.value)
    assert f"file {FILE} of {REPO}" in message
    assert f"expected sha256 {sha256_file(weights)}, actual {sha256_bytes(bytes(tampered))}" in message
    assert list((cache / "pretrained").iterdir()) == []  # nothing kept, not even the Hub's own cache folder


def test_a_hub_that_announces_more_than_the_registered_size_is_refused(plugin, weights, cache, monkeypatch):
    register(plugin, weights)
    with serve(weights, monkeypatch, announce=20 * 1024 * 1024):
        with pytest.raises(IntegrityError, match="announces 20971520 bytes, more than the registered"):
            dpzoo.create_model("mlp.served", pretrained=True)
    assert list((cache / "pretrained").iterdir()) == []


def test_a_hub_that_drips_is_given_up_at_the_total_deadline(plugin, weights, cache, monkeypatch):
    register(plugin, weights)
    monkeypatch.setattr(sources, "DEADLINE_S", 0.5)  # every read succeeds well within the read timeout
    with serve(weights, monkeypatch, drip=0.05):
        with pytest.raises(DpzooError, match=r"not finished within 0.5 s \(\d+ of \d+ bytes\)"):
            dpzoo.create_model("mlp.served", pretrained=True)
    assert list((cache / "pretrained").iterdir()) == []


@pytest.mark.parametrize("flag", ["HF_HUB_OFFLINE", "DPZOO_OFFLINE"])
def test_either_offline_switch_refuses_an_hf_download_before_connecting(plugin, weights, monkeypatch, flag):
    register(plugin, weights)
    with serve(weights, monkeypatch) as hub:
        monkeypatch.setenv(flag, "1")
        with pytest.raises(sources.OfflineError, match=f"{flag} is set and {URL} is not in the cache"):
            dpzoo.create_model("mlp.served", pretrained=True)
    assert hub.requests == []


@pytest.mark.parametrize(
    "url, problem",
    [
        (f"hf://{REPO}/{FILE}@main", "'main' is not a commit id"),
        (f"hf://{REPO}/{FILE}", "is not a Hub URL"),
        (f"hf://someone/{FILE}@{COMMIT}", "is not a Hub URL"),
        (f"hf://{REPO}/model.bin@{COMMIT}", "only .safetensors files"),
    ],
    ids=["branch", "no revision", "no repository", "pickle"],
)
def test_an_hf_url_that_is_not_pinned_to_a_safetensors_file_is_refused(plugin, weights, url, problem):
    register(plugin, weights, url)
    with pytest.raises(DpzooError, match=problem):
        dpzoo.create_model("mlp.served", pretrained=True)


def test_an_index_row_may_name_an_hf_url(zoo_copy, weights, cache, monkeypatch):
    index = json.loads((zoo_copy / "index.json").read_text())
    index["entries"]["mlp.served"] = {"file": URL, "sha256": sha256_file(weights), "size": weights.stat().st_size}
    (zoo_copy / "index.json").write_text(json.dumps(index))
    with serve(weights, monkeypatch):
        assert same_weights(dpzoo.create_model("mlp.served", pretrained=True), load_file(str(weights)))
    index["entries"]["mlp.served"]["file"] = f"hf://{REPO}/{FILE}@v1"
    (zoo_copy / "index.json").write_text(json.dumps(index))
    with pytest.raises(IntegrityError, match="'v1' is not a commit id"):
        dpzoo.list_models(pretrained=True)
