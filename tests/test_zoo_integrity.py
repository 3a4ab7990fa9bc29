"""The zoo's integrity promise, attacked as an auditor would (issue 10's numbered cases).

Each test reproduces one way the promise "what loads is what the index and
the card vouch for" was broken, and checks that it now holds: a file
swapped while it loads, an in-place rewrite, paths outside the zoo,
unbounded and slow downloads, dtypes, the card's own checks on the zoo path,
malformed headers and indexes, planted temporary files, the index's
headline, eval mode, and rebuild verdicts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from zoo_helpers import (  # noqa: F401 - fixtures
    INDEX,
    ZOO,
    Server,
    cache,
    flip_byte,
    plugin,
    reindex,
    replace_entry,
    same_weights,
    tensors_digest,
    write_entry,
    zoo_copy,
)

import dpzoo
from dpzoo.errors import DpzooError, IntegrityError
from dpzoo.files import sha256_file
from dpzoo.pretrained import sources
from dpzoo.pretrained.card import read_card
from dpzoo.pretrained.safetensors_file import read_header

MLP = "mlp.digits"


# -- 1. a file swapped while it loads ----------------------------------------------------------
SWAPPER = """
import os, sys
path, good, bad, rounds = sys.argv[1], open(sys.argv[2], "rb").read(), open(sys.argv[3], "rb").read(), int(sys.argv[4])
tmp = path + ".swap"
for _ in range(rounds):
    for data in (bad, good):  # swapped whole, by rename
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    for data in (bad, good):  # rewritten in place, byte range by byte range
        with open(path, "r+b") as f:
            for start in range(0, len(data), 4096):
                f.write(data[start : start + 4096])
"""


@pytest.mark.timeout(120)
def test_loads_racing_a_process_that_swaps_in_tampered_weights_never_return_them(zoo_copy, tmp_path):
    path = zoo_copy / INDEX[MLP]["file"]
    good = load_file(str(path))
    (tmp_path / "good").write_bytes(path.read_bytes())
    (tmp_path / "bad").write_bytes(path.read_bytes())
    flip_byte(tmp_path / "bad")  # same size, one byte of the last tensor changed: a valid header, other weights
    swapper = subprocess.Popen(
        [sys.executable, "-c", SWAPPER, str(path), str(tmp_path / "good"), str(tmp_path / "bad"), "300"]
    )
    loaded = refused = 0
    try:
        while swapper.poll() is None:  # bounded: the swapper stops after its rounds
            try:
                model = dpzoo.create_model(MLP, pretrained=True)
            except IntegrityError:
                refused += 1
                continue
            assert same_weights(model, good), "a load returned weights other than the index's"
            loaded += 1
    finally:
        swapper.kill()
        swapper.wait()
    assert swapper.returncode == 0
    print(f"{loaded} loads returned the good weights, {refused} were refused")
    assert refused > 0, "no load met the tampered file: the race did not happen"
    assert same_weights(dpzoo.create_model(MLP, pretrained=True), good)  # the swapper ended on the good bytes


# -- 3. paths: confined to the zoo, regular files, sizes known ---------------------------------
@pytest.mark.parametrize(
    "file",
    ["../../../etc/passwd", "/etc/passwd", "../outside.safetensors", "sub/mlp.digits.safetensors", "/dev/zero", ".."],
)
def test_an_index_file_outside_the_zoo_directory_is_refused(zoo_copy, file):
    (zoo_copy.parent / "outside.safetensors").write_bytes((ZOO / INDEX[MLP]["file"]).read_bytes())  # a valid copy
    reindex(zoo_copy, MLP, file=file)
    with pytest.raises(IntegrityError, match=r"index.json is not a valid zoo index .*plain file name"):
        dpzoo.create_model(MLP, pretrained=True)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("kind", ["symlink to /dev/zero", "fifo", "directory"])
def test_a_weight_file_that_is_not_a_regular_file_is_refused_before_reading(zoo_copy, kind):
    path = zoo_copy / INDEX[MLP]["file"]
    path.unlink()
    if kind == "fifo":
        os.mkfifo(path)  # opening it to read would wait for a writer for ever
    elif kind == "directory":
        path.mkdir()
    else:
        path.symlink_to("/dev/zero")  # reading it would never end
    with pytest.raises(IntegrityError, match="regular file"):
        dpzoo.create_model(MLP, pretrained=True)


def test_an_index_row_without_a_size_is_refused(zoo_copy):
    index = json.loads((zoo_copy / "index.json").read_text())
    del index["entries"][MLP]["size"]
    (zoo_copy / "index.json").write_text(json.dumps(index))
    with pytest.raises(IntegrityError, match=rf"entries.{MLP}.size: Field required"):
        dpzoo.list_models(pretrained=True)


# -- 4. downloads: a size, a deadline, the cache kept, DPZOO_OFFLINE read one way ----------------
@pytest.fixture
def served(tmp_path, monkeypatch) -> tuple[Path, str, int]:
    """A card-carrying file to serve: (path, sha256, size); proxies bypassed for 127.0.0.1."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    path = write_entry(tmp_path / "served.safetensors", "mlp.served", ZOO / INDEX[MLP]["file"])
    return path, sha256_file(path), path.stat().st_size


@pytest.mark.timeout(60)
def test_a_server_that_drips_is_given_up_at_the_total_deadline(plugin, cache, served, monkeypatch):
    path, digest, size = served
    data = path.read_bytes()

    def drip(handler):  # the right length announced, then one byte every 50 ms, stopping by itself after 3 s
        handler.send_response(200)
        handler.send_header("Content-Length", str(size))
        handler.end_headers()
        try:
            for byte in data[:60]:
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
                time.sleep(0.05)
        except OSError:  # the client gave up: what this test wants
            pass

    monkeypatch.setattr(sources, "DEADLINE_S", 0.5)  # every read succeeds well within TIMEOUT_S
    with Server(respond=drip) as server:
        plugin(("mlp.served", server.url("w.safetensors"), {"sha256": digest, "size": size}))
        with pytest.raises(DpzooError, match=r"not finished within 0.5 s \(\d+ of \d+ bytes\)"):
            dpzoo.create_model("mlp.served", pretrained=True)
    assert list((cache / "pretrained").iterdir()) == []


@pytest.mark.timeout(60)
@pytest.mark.parametrize("announce", [False, True], ids=["no length", "length announced"])
def test_a_server_that_sends_more_than_the_registered_size_is_cut_off(plugin, cache, served, announce):
    path, digest, size = served
    flood = 20 * 1024 * 1024
    sent, done = [], threading.Event()

    def oversized(handler):  # 20 MiB of the file's bytes repeated, stopping when the client hangs up
        handler.send_response(200)
        if announce:
            handler.send_header("Content-Length", str(flood))
        handler.end_headers()
        block, count = (path.read_bytes() * 4)[: 1 << 16], 0
        try:
            while count < flood:
                handler.wfile.write(block)
                count += len(block)
        except OSError:  # the client closed the connection: what this test wants
            pass
        sent.append(count)
        done.set()

    with Server(respond=oversized) as server:
        plugin(("mlp.served", server.url("w.safetensors"), {"sha256": digest, "size": size}))
        match = "announces 20971520 bytes, more than the registered" if announce else "longer than the registered"
        with pytest.raises(IntegrityError, match=match):
            dpzoo.create_model("mlp.served", pretrained=True)
    assert done.wait(20), "the server did not stop"
    assert sent[0] < flood, "the whole response was read before it was refused"
    assert list((cache / "pretrained").iterdir()) == []


@pytest.mark.parametrize("value", ["1", "y", "2", "yes", "TRUE"])
def test_dpzoo_offline_set_to_any_on_value_refuses_before_connecting(plugin, cache, served, monkeypatch, value):
    path, digest, size = served
    with Server(path.parent) as server:
        plugin(("mlp.served", server.url(path.name), {"sha256": digest, "size": size}))
        monkeypatch.setenv("DPZOO_OFFLINE", value)
        with pytest.raises(sources.OfflineError, match="DPZOO_OFFLINE"):
            dpzoo.create_model("mlp.served", pretrained=True)
        assert server.requests == []


@pytest.fixture
def downloaded(plugin, cache, served) -> tuple[Path, Path]:
    """A file:// registration loaded once: (the source file, its copy in the cache, named by its sha256)."""
    path, digest, size = served
    plugin(("mlp.served", path.as_uri(), {"sha256": digest, "size": size}))
    dpzoo.create_model("mlp.served", pretrained=True)
    cached = cache / "pretrained" / f"{digest}.safetensors"
    assert cached.read_bytes() == path.read_bytes()
    return path, cached


def test_a_registration_that_disagrees_with_a_valid_cached_file_is_an_error_and_the_file_stays(
    plugin, served, downloaded
):
    (path, cached), (_, digest, size) = downloaded, served
    name = plugin(("mlp.served", path.as_uri(), {"sha256": digest, "size": size + 1}))
    with pytest.raises(IntegrityError, match="the registration is wrong: fix its size"):
        dpzoo.create_model(f"{name}:mlp.served", pretrained=True)
    assert cached.read_bytes() == path.read_bytes()


def test_a_registration_may_vouch_for_the_cards_weights_sha256_and_a_wrong_one_is_refused(plugin, cache, served):
    path, digest, size = served
    card = read_card(path)
    plugin(("mlp.served", path.as_uri(), {"sha256": digest, "size": size, "weights_sha256": card.weights_sha256}))
    assert same_weights(dpzoo.create_model("mlp.served", pretrained=True), load_file(str(path)))
    name = plugin(("mlp.served", path.as_uri(), {"sha256": digest, "size": size, "weights_sha256": "0" * 64}))
    with pytest.raises(
        IntegrityError,
        match=f"the card in .* has weights_sha256 {card.weights_sha256}, but its registration records 0+:",
    ):
        dpzoo.create_model(f"{name}:mlp.served", pretrained=True)


def test_a_corrupt_cached_file_is_replaced_by_a_fresh_download(downloaded):
    path, cached = downloaded
    flip_byte(cached)
    assert same_weights(dpzoo.create_model("mlp.served", pretrained=True), load_file(str(path)))
    assert cached.read_bytes() == path.read_bytes()


# -- 5. dtypes ------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float64", "mixed", "int32"])
def test_weights_in_another_dtype_are_refused_naming_it(zoo_copy, dtype):
    tensors = load_file(str(ZOO / INDEX[MLP]["file"]))
    if dtype == "mixed":
        tensors["output.bias"] = tensors["output.bias"].double()
        wanted = "output.bias: model float32, file float64"
    else:
        tensors = {k: v.to(getattr(torch, dtype)) for k, v in tensors.items()}
        wanted = f"output.bias: model float32, file {dtype}"
    replace_entry(zoo_copy, MLP, tensors)
    with pytest.raises(IntegrityError, match=f"different dtypes: .*{wanted}"):
        dpzoo.create_model(MLP, pretrained=True)


# -- 6. the zoo path checks what the local path checks -------------------------------------------
# A zoo row records the card's weights_sha256 (publish computes it from the tensors it writes): a load checks
# the file's full sha256 on the bytes it loads, then that the card's digest is the row's. Where a row has none
# (a plugin's registration, an older index), the load hashes the tensors; `zoo verify` always does.
def test_a_zoo_load_refuses_a_card_whose_weights_sha256_is_not_the_index_rows(zoo_copy):
    tensors = load_file(str(ZOO / INDEX[MLP]["file"]))
    recorded = read_card(ZOO / INDEX[MLP]["file"]).weights_sha256
    tensors["output.bias"] = tensors["output.bias"] + 1  # other weights, their own consistent card
    replace_entry(zoo_copy, MLP, tensors, row={"weights_sha256": recorded})  # the row still vouches for the old
    with pytest.raises(
        IntegrityError, match=f"{MLP}: the card in .* has weights_sha256 .*, but its index row records {recorded}"
    ):
        dpzoo.create_model(MLP, pretrained=True)


def test_without_a_recorded_digest_the_zoo_path_hashes_the_tensors_against_the_card(zoo_copy):
    tensors = load_file(str(ZOO / INDEX[MLP]["file"]))
    recorded = read_card(ZOO / INDEX[MLP]["file"]).weights_sha256
    tensors["output.bias"] = tensors["output.bias"] + 1  # other weights under the card, the index vouching for the file
    replace_entry(zoo_copy, MLP, tensors, weights_sha256=recorded, row={"weights_sha256": None})
    with pytest.raises(IntegrityError, match=f"do not match its card: expected weights_sha256 {recorded}"):
        dpzoo.create_model(MLP, pretrained=True)


def test_zoo_verify_hashes_the_tensors_even_where_the_row_vouches_for_the_card(zoo_copy, capsys):
    """A hand-edited row that agrees with a card its tensors do not match: loads trust the row, verify does not."""
    from dpzoo.cli import main

    tensors = load_file(str(ZOO / INDEX[MLP]["file"]))
    recorded = read_card(ZOO / INDEX[MLP]["file"]).weights_sha256
    tensors["output.bias"] = tensors["output.bias"] + 1
    replace_entry(zoo_copy, MLP, tensors, weights_sha256=recorded)  # card and row agree; the tensors do not
    assert main(["zoo", "verify", MLP, "--hashes-only"]) == 1
    assert f"do not match its card: expected weights_sha256 {recorded}" in capsys.readouterr().out


def test_zoo_verify_without_metrics_still_checks_the_tensors_fit_the_architecture(zoo_copy, capsys):
    from dpzoo.cli import main

    tensors = load_file(str(ZOO / INDEX[MLP]["file"]))
    tensors["output.bias"] = torch.zeros(3)  # a self-consistent card and row over a tensor of the wrong shape
    replace_entry(zoo_copy, MLP, tensors)
    assert main(["zoo", "verify", MLP, "--hashes-only"]) == 1
    assert "does not fit the architecture 'mlp': different shapes: output.bias: model [10], file [3]" in (
        capsys.readouterr().out
    )


def test_publishing_never_vouches_for_tensors_that_differ_from_the_card(zoo_copy):
    from safetensors.torch import save

    from dpzoo.pretrained.publish import add_to_index

    path = zoo_copy / INDEX[MLP]["file"]
    card = read_card(path)
    tensors = load_file(str(path))
    tensors["output.bias"] = tensors["output.bias"] + 1
    data = save(tensors, metadata=card.to_metadata())
    before = (zoo_copy / "index.json").read_bytes()
    with pytest.raises(IntegrityError, match="do not hash to its card's weights_sha256; the index will not vouch"):
        add_to_index(zoo_copy, card, path, data, None)
    assert (zoo_copy / "index.json").read_bytes() == before


def test_a_load_with_a_recorded_digest_hashes_the_file_once_and_verify_hashes_the_tensors_too(monkeypatch):
    from dpzoo.pretrained import loading, safetensors_file
    from dpzoo.pretrained.entries import resolve

    digests = []

    class Counting(safetensors_file.TensorsDigest):
        def __init__(self, header):
            digests.append(header.path)
            super().__init__(header)

    monkeypatch.setattr(loading, "TensorsDigest", Counting)
    loading.forget()
    assert resolve(MLP).weights_sha256 == read_card(ZOO / INDEX[MLP]["file"]).weights_sha256
    assert same_weights(dpzoo.create_model(MLP, pretrained=True), load_file(str(ZOO / INDEX[MLP]["file"])))
    assert digests == []
    checked = loading.verified(resolve(MLP), rehash=True)  # what `dpzoo zoo verify` does
    assert len(digests) == 1 and checked.card.weights_sha256 == tensors_digest(ZOO / INDEX[MLP]["file"])
    loading.forget()


def test_every_shipped_index_row_records_its_cards_weights_sha256():
    for name, row in INDEX.items():
        assert (
            row["weights_sha256"] == read_card(ZOO / row["file"]).weights_sha256 == tensors_digest(ZOO / row["file"])
        ), name


@pytest.fixture(params=["inline", "threaded"])
def stream_mode(request, monkeypatch):
    """Run the first-load checks in the reader's thread or in a second one, in small pieces so they interleave."""
    from dpzoo.pretrained import loading

    monkeypatch.setattr(loading, "PARALLEL_BYTES", 0 if request.param == "threaded" else 1 << 62)
    monkeypatch.setattr(sources, "READ_CHUNK", 4096)
    loading.forget()
    yield request.param
    loading.forget()


@pytest.mark.parametrize("name", [MLP, "resnet.digits"], ids=["name order", "dtype-then-name order"])
def test_checks_made_while_the_file_arrives_agree_with_checks_made_after(stream_mode, name):
    """One pass: header, card and tensors' digest computed as the bytes land equal those of the whole file.

    The ResNet's file lays its int64 counters out before its float32 weights,
    so its tensors are not in name order: the digest must wait for the bytes it needs.
    """
    from dpzoo.pretrained import loading
    from dpzoo.pretrained.entries import resolve
    from dpzoo.pretrained.safetensors_file import tensors_sha256

    path = ZOO / INDEX[name]["file"]
    header = read_header(path)
    if name != MLP:
        layout = sorted(header.tensors, key=lambda k: header.tensors[k].data_offsets)
        assert layout != sorted(header.tensors)  # the case this parameter is for
    checked = loading.verified(resolve(name), rehash=True)  # the tensors hashed as they arrive, as verify does
    assert checked.header.tensors == header.tensors and checked.card == read_card(path)
    assert tensors_sha256(checked.header, checked.data) == checked.card.weights_sha256 == tensors_digest(path)
    assert same_weights(dpzoo.create_model(name, pretrained=True), load_file(str(path)))


def test_first_loads_in_either_mode_refuse_tensors_that_differ_from_the_card(zoo_copy, stream_mode):
    tensors = load_file(str(ZOO / INDEX[MLP]["file"]))
    recorded = read_card(ZOO / INDEX[MLP]["file"]).weights_sha256
    tensors["hidden.0.linear.weight"] = tensors["hidden.0.linear.weight"] * 2
    replace_entry(zoo_copy, MLP, tensors, weights_sha256=recorded, row={"weights_sha256": None})
    with pytest.raises(IntegrityError, match=f"do not match its card: expected weights_sha256 {recorded}"):
        dpzoo.create_model(MLP, pretrained=True)


def test_a_broken_header_is_reported_as_the_hash_mismatch_that_explains_it(zoo_copy, stream_mode):
    """The header is parsed before the file's hash is known; its error must not hide the hash's verdict."""
    path = zoo_copy / INDEX[MLP]["file"]
    data = bytearray(path.read_bytes())
    data[9] = ord("[")  # the header's JSON no longer parses
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match=f"fails its hash check: expected sha256 {INDEX[MLP]['sha256']}"):
        dpzoo.create_model(MLP, pretrained=True)


def test_an_entry_whose_card_names_another_architecture_is_refused(zoo_copy):
    lenet = load_file(str(ZOO / INDEX["cnn.digits"]["file"]))
    replace_entry(zoo_copy, MLP, lenet, card_from="cnn.digits", name=MLP)  # mlp.digits holding a LeNet
    with pytest.raises(IntegrityError, match="entry 'mlp.digits' names the architecture 'mlp' but its card says 'cnn'"):
        dpzoo.create_model(MLP, pretrained=True)


# -- 7. malformed headers and indexes ---------------------------------------------------------------
def safetensors_bytes(header: dict | str, data: bytes) -> bytes:
    text = header if isinstance(header, str) else json.dumps(header)
    return len(text.encode()).to_bytes(8, "little") + text.encode() + data


F32 = {"dtype": "F32", "shape": [2]}
MALFORMED = {
    "string offsets": ({"w": {**F32, "data_offsets": ["0", "8"]}}, 8, "data_offsets"),
    "string metadata": ({"__metadata__": "a card", "w": {**F32, "data_offsets": [0, 8]}}, 8, "__metadata__"),
    "deep nesting": ('{"__metadata__": ' + "[" * 100_000 + "]" * 100_000 + "}", 0, "nested too deeply"),
    "overlap": ({"a": {**F32, "data_offsets": [0, 8]}, "b": {**F32, "data_offsets": [4, 12]}}, 12, "overlapping"),
    "hole": ({"a": {**F32, "data_offsets": [0, 8]}, "b": {**F32, "data_offsets": [12, 20]}}, 20, "gapped"),
    "negative dim": ({"w": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}, 8, "negative dimension"),
    "unknown dtype": ({"w": {"dtype": "F31", "shape": [2], "data_offsets": [0, 8]}}, 8, "dtype"),
    "bool shape": ({"w": {"dtype": "F32", "shape": [True], "data_offsets": [0, 4]}}, 4, "shape"),
    "trailing bytes": ({"w": {**F32, "data_offsets": [0, 8]}}, 12, "padded"),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_a_malformed_header_is_an_integrity_error_naming_the_file(tmp_path, case):
    header, data_size, problem = MALFORMED[case]
    path = tmp_path / "bad.safetensors"
    path.write_bytes(safetensors_bytes(header, bytes(data_size)))
    with pytest.raises(IntegrityError, match=problem) as error:
        read_header(path)
    assert str(path) in str(error.value)
    with pytest.raises(IntegrityError, match=problem):
        dpzoo.create_model("mlp", pretrained=path)


@pytest.mark.parametrize(
    "edit, problem",
    [
        (lambda rows: rows[MLP].update(sha256="not-hex"), "sha256: String should match pattern"),
        (lambda rows: rows[MLP].update(size=-1), "size: Input should be greater than or equal to 0"),
        (lambda rows: rows.update({"../escape": rows[MLP]}), "entry names must be arch.tag"),
        (lambda rows: rows[MLP].update(extra=1), "extra: Extra inputs are not permitted"),
        (lambda rows: rows[MLP].update(weights_sha256="ABC"), "weights_sha256: String should match pattern"),
        (lambda rows: rows.update({"zoo:mlp.other": rows[MLP]}), "entry names must be arch.tag, got 'zoo:mlp.other'"),
        (lambda rows: rows[MLP].update(file=".."), "file: '..' is not a plain file name inside the zoo directory"),
    ],
    ids=["sha256", "size", "name", "unknown field", "weights_sha256", "qualified name", "parent directory"],
)
def test_an_index_that_breaks_its_schema_is_refused(zoo_copy, edit, problem):
    index = json.loads((zoo_copy / "index.json").read_text())
    edit(index["entries"])
    (zoo_copy / "index.json").write_text(json.dumps(index))
    with pytest.raises(IntegrityError, match=f"not a valid zoo index .*{problem}"):
        dpzoo.list_models(pretrained=True)


# -- 8. temporary files: unique, created exclusively, never through a planted symlink -----------
def test_an_atomic_write_never_follows_a_planted_symlink(tmp_path, monkeypatch):
    import secrets

    from dpzoo.files import atomic_write_bytes

    outside = tmp_path / "outside.json"
    outside.write_text("untouched")
    target = tmp_path / "zoo" / "index.json"
    target.parent.mkdir()
    monkeypatch.setattr(secrets, "token_hex", lambda n: "f" * (2 * n))  # an attacker who guesses the name
    (target.parent / f".index.json.{os.getpid()}.{'f' * 16}.tmp").symlink_to(outside)
    with pytest.raises(FileExistsError, match="no free temporary name"):
        atomic_write_bytes(target, b"{}")
    assert outside.read_text() == "untouched" and not target.exists()


def test_atomic_writes_use_a_fresh_private_name_each_time(tmp_path, monkeypatch):
    from dpzoo import files

    names = []
    original = files.temporary_beside

    def spy(path, *args):
        fd, tmp = original(path, *args)
        names.append(tmp.name)
        return fd, tmp

    monkeypatch.setattr(files, "temporary_beside", spy)
    for text in (b"a", b"b", b"c"):
        files.atomic_write_bytes(tmp_path / "index.json", text)
    assert len(set(names)) == 3 and all(str(os.getpid()) in name for name in names)
    assert (tmp_path / "index.json").read_bytes() == b"c" and sorted(p.name for p in tmp_path.iterdir()) == [
        "index.json"
    ]


# -- 9. zoo verify checks what `dpzoo list` shows -------------------------------------------------
@pytest.mark.parametrize(
    "row, problem",
    [
        (
            {"headline": {"name": "test/accuracy", "value": 0.9999}},
            "the index's headline ('test/accuracy', 0.9999) is not the card's",
        ),
        ({"summary": "a better model"}, "the index's summary 'a better model' is not the card's"),
    ],
)
def test_zoo_verify_checks_the_index_row_against_the_card(zoo_copy, capsys, row, problem):
    from dpzoo.cli import main

    reindex(zoo_copy, MLP, **row)
    assert main(["zoo", "verify", MLP, "--hashes-only"]) == 1
    out = capsys.readouterr().out
    assert f"{MLP}: failed" in out and problem in out


# -- 10. eval mode ----------------------------------------------------------------------------------
def test_pretrained_models_come_back_in_eval_mode():
    x = torch.rand(32, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    cnn = dpzoo.create_model("cnn.digits", pretrained=True)
    assert not any(m.training for m in cnn.modules())
    assert torch.equal(cnn(x), cnn(x))  # dropout is off
    resnet = dpzoo.create_model("resnet.digits", pretrained=True)
    statistics = {k: v.clone() for k, v in resnet.state_dict().items() if "running" in k}
    assert statistics, "the ResNet has BatchNorm running statistics"
    resnet(x)
    assert all(torch.equal(resnet.state_dict()[k], v) for k, v in statistics.items())  # BatchNorm left alone
    assert dpzoo.create_model("mlp.digits").training  # an untrained architecture is a model to train


# -- 11. rebuild verdicts ---------------------------------------------------------------------------
def report(weights_same: bool, predictions: dict, shift: float):
    from dpzoo.pretrained.rebuild import BuildReport

    card = dpzoo.model_card(MLP)
    metrics = [m.model_copy(update={"value": m.value + shift}) for m in card.metrics]
    rebuilt = card.model_copy(
        update={"metrics": metrics, "weights_sha256": card.weights_sha256 if weights_same else "0" * 64}
    )
    return BuildReport(card, rebuilt, None, 1.0, predictions=predictions)


@pytest.mark.parametrize(
    "weights_same, predictions, shift, verdict",
    [
        (True, {}, 0.0, "bitwise equal"),
        (False, {"test": True, "validation": True}, 3e-3, "reproduced up to kernels"),
        (False, {"test": True, "validation": False}, 0.0, "differs"),
        (False, {"test": True, "validation": True}, 0.02, "differs"),
    ],
    ids=["same tensors", "other kernels", "a prediction changed", "a metric beyond its tolerance"],
)
def test_a_rebuild_verdict_says_what_matched_and_zoo_build_exits_by_it(
    monkeypatch, capsys, weights_same, predictions, shift, verdict
):
    from dpzoo.cli import main
    from dpzoo.pretrained import rebuild

    made = report(weights_same, predictions, shift)
    assert made.card.rebuild_tolerance and all(v == 0.01 for v in made.card.rebuild_tolerance.values())
    assert made.verdict == verdict
    monkeypatch.setattr(rebuild, "rebuild", lambda *args, **kwargs: made)
    assert main(["zoo", "build", MLP]) == (1 if verdict == "differs" else 0)
    assert f"verdict: {verdict}" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.skipif(
    torch.backends.cpu.get_cpu_capability() != "AVX512", reason="needs AVX-512 to rebuild with AVX2 kernels instead"
)
def test_zoo_build_on_other_cpu_kernels_reproduces_up_to_kernels(tmp_path):
    """mlp.digits was trained with AVX-512 kernels; ATEN_CPU_CAPABILITY=avx2 rebuilds it as an AVX2 machine would."""
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "avx2", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "dpzoo.cli", "zoo", "build", MLP], capture_output=True, text=True, env=env, timeout=600
    )
    assert "this rebuild used torch" in result.stdout and "AVX2" in result.stdout, result.stdout + result.stderr
    assert result.returncode == 0 and "verdict: reproduced up to kernels" in result.stdout, result.stdout
