"""Loading pretrained weights from one read: hash, parse, check and build tensors from the same bytes.

For an entry of the zoo, the file is read once into memory (``sources.read_verified``:
a regular file of the recorded size whose bytes hash to the recorded sha256),
and everything after works on those bytes: the header is validated, the card
read from it must name the entry and its architecture and carry the
``weights_sha256`` its index row records (where the row has none, as for a
plugin's registration, the tensors are hashed and must give the card's), the
tensors must match the architecture's names, shapes and dtypes, and they are
built as views of the same buffer. What was hashed is therefore what loads,
even if the file is swapped meanwhile.

The bytes are crossed once: each piece is hashed as it lands, and
``StreamCheck`` parses the header as soon as its bytes are in (and, when the
tensors must be hashed, hashes each one as its bytes arrive, in a second thread
for files of ``PARALLEL_BYTES`` or more). The result of parsing and checking is
kept per file sha256 (see ``_parsed``): later loads still read and hash the
whole file. A local ``.safetensors`` file is read whole, then parsed and its
tensors checked against its own card. Nothing is ever unpickled, and the model
comes back in eval mode.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..components import get
from ..config import validate
from ..errors import ConfigError, DpzooError, IntegrityError
from ..registry import ZooName
from . import sources
from .card import CARD_KEY, ModelCard, card_from_header
from .entries import SHIPPED, Weights, resolve
from .safetensors_file import Header, TensorsDigest, header_length, parse_header, read_header, tensors_sha256

# safetensors dtype -> torch dtype name, for the dtype check before loading
TORCH_DTYPES = {
    "BOOL": "bool",
    "U8": "uint8",
    "I8": "int8",
    "F8_E4M3": "float8_e4m3fn",
    "F8_E5M2": "float8_e5m2",
    "U16": "uint16",
    "I16": "int16",
    "F16": "float16",
    "BF16": "bfloat16",
    "U32": "uint32",
    "I32": "int32",
    "F32": "float32",
    "U64": "uint64",
    "I64": "int64",
    "F64": "float64",
}

# From this size on, a first load checks the header and hashes the tensors in a second thread that follows
# the reader: below it, starting the thread costs more than it saves (~0.1 ms against ~0.5 ms of hashing).
PARALLEL_BYTES = 1 << 20


@dataclass(frozen=True)
class Checked:
    """A weight file's bytes after every check: its header and card describe exactly these bytes."""

    data: bytearray
    header: Header
    card: ModelCard


def model_card(name: str) -> ModelCard:
    """The card of a pretrained entry (its file is hash-checked), or of a local ``.safetensors`` file."""
    if name.endswith(".safetensors") and Path(name).is_file():
        return card_from_header(read_header(name))
    return verified(resolve(name)).card


# file sha256 -> (header, card, whether the tensors were hashed) of the bytes with that digest, parsed and
# checked against each other once. Keyed by the content's own hash, it cannot disagree with the bytes: a later
# load reads and hashes the file in full again, and only bytes with the same sha256 (the same bytes, short of
# a sha256 collision) reuse the result of parsing and checking them.
_parsed: dict[str, tuple[Header, ModelCard, bool]] = {}


def forget() -> None:
    """Forget every parse remembered in this process (headers and cards, index files): the next load of
    any entry is checked in full, as a fresh process's first load is (benchmarks/zoo_load.py's cold arm)."""
    from . import entries

    _parsed.clear()
    entries._indexes.clear()


def verified(weights: Weights, rehash: bool = False) -> Checked:
    """The entry's file read once and checked: size, sha256, header, card name and arch, ``weights_sha256``.

    The card's ``weights_sha256`` is checked one of two ways. Where the index
    row records it (``dpzoo zoo publish`` does, from the tensors it wrote),
    the card's must be that string: the file's full sha256, checked on these
    very bytes, already pins every tensor byte to what was published, so
    hashing the tensors again would prove nothing more about them. Otherwise
    (a plugin's registration, an older index), or with ``rehash``
    (``dpzoo zoo verify``), the tensors are hashed and must give the card's.
    """
    where = weights.location
    digest = rehash or weights.weights_sha256 is None
    memo = _parsed.get(weights.sha256)
    if memo is not None and (memo[2] or not digest):
        data, _ = weights.read()  # hashes to weights.sha256, or raised
        header, card = replace(memo[0], path=Path(where)), memo[1]
    else:
        threaded = digest and weights.size >= PARALLEL_BYTES
        data, (header, card) = weights.read(check=lambda: StreamCheck(where, threaded, digest))
        _parsed[weights.sha256] = header, card, digest
    if card.name != weights.name:
        raise IntegrityError(f"{where} holds the card of {card.name!r}, not of {weights.name!r}")
    if card.arch != weights.arch:
        raise IntegrityError(
            f"{where}: entry {weights.name!r} names the architecture {weights.arch!r} but its card says {card.arch!r}"
        )
    if weights.weights_sha256 is not None and card.weights_sha256 != weights.weights_sha256:
        raise IntegrityError(
            f"{weights.qualified_name}: the card in {where} has weights_sha256 {card.weights_sha256}, but its "
            f"{'index row' if weights.source == SHIPPED else 'registration'} records {weights.weights_sha256}: the "
            "file or the index was replaced. Reinstall dpzoo (or the plugin), or rebuild the entry "
            "(`dpzoo zoo build`) and publish it again"
        )
    return Checked(data, header, card)


class StreamCheck:
    """Parse the header, read the card and hash the tensors while the file's bytes arrive (one pass).

    ``sources.read_verified`` calls ``feed`` after each piece it has read and
    hashed: once the header's bytes are in, the header is validated and the
    card read; from then on each tensor is hashed into ``weights_sha256`` as
    soon as its bytes are in (``TensorsDigest``). With ``threaded`` this work
    runs in a second thread that follows the reader (hashlib and file reads
    release the GIL, so the two hashes run side by side on two cores); it
    writes nothing, and reads only bytes the reader has finished with.
    ``result`` raises the first problem met, else compares the tensors' digest
    with the card's. Errors are kept until then, so that the reader's hash
    check is reported first. With ``digest`` false only the header and card
    are read (the caller checks ``weights_sha256`` another way).
    """

    def __init__(self, where: str | os.PathLike, threaded: bool = False, digest: bool = True):
        self.where = where
        self._digest = digest
        self.header: Header | None = None
        self.card: ModelCard | None = None
        self.tensors: TensorsDigest | None = None
        self.failure: DpzooError | None = None
        self._threaded, self._data = threaded, None
        self._worker: threading.Thread | None = None
        self._available, self._closed = 0, False
        self._arrived = threading.Condition()

    def feed(self, data: bytearray, available: int) -> None:
        if not self._threaded:
            self._step(data, available)
            return
        with self._arrived:
            self._available = available
            self._arrived.notify()
        if self._worker is None:
            self._worker = threading.Thread(target=self._follow, args=(data,), name="dpzoo-stream-check", daemon=True)
            self._worker.start()

    def close(self, available: int) -> None:
        """No more bytes will arrive (``available`` in all); returns once the check has caught up."""
        if self._worker is None:
            return
        with self._arrived:
            self._available, self._closed = available, True
            self._arrived.notify()
        self._worker.join()

    def result(self) -> tuple[Header, ModelCard]:
        if self.failure is not None:
            raise self.failure
        if self.header is None or self.card is None:  # the bytes ended inside the header
            raise IntegrityError(f"{self.where}: the file ends before its safetensors header does")
        if self.tensors is not None:  # set with the header whenever the tensors are to be hashed
            _check_digest(self.header, self.card, self.tensors.hexdigest())
        return self.header, self.card

    def _follow(self, data: bytearray) -> None:
        done = 0
        while True:
            with self._arrived:
                while self._available == done and not self._closed:
                    self._arrived.wait()
                available, closed = self._available, self._closed
            if available > done:
                self._step(data, available)
                done = available
            if closed and done == available:
                return

    def _step(self, data: bytearray, available: int) -> None:
        if self.failure is not None:
            return
        try:
            if self.header is None:
                if available < 8 or available < 8 + header_length(data[:8], len(data), Path(self.where)):
                    return
                header = self.header = parse_header(data, len(data), self.where)
                self.card = card_from_header(header)
                self.tensors = TensorsDigest(header) if self._digest else None
            if self.tensors is not None:
                self.tensors.advance(data, available)
        except DpzooError as exc:
            self.failure = exc


def _check_tensors(data: bytes | bytearray, header: Header, card: ModelCard) -> None:
    _check_digest(header, card, tensors_sha256(header, data))


def _check_digest(header: Header, card: ModelCard, actual: str) -> None:
    if actual != card.weights_sha256:
        raise IntegrityError(
            f"{header.path}: its tensors do not match its card: expected weights_sha256 {card.weights_sha256}, "
            f"actual {actual}. The file was written or edited by hand; publish weights with `dpzoo zoo publish`, "
            "which writes the card from the tensors it saves"
        )


def create_pretrained(name: str, pretrained: bool | str | os.PathLike = True, **overrides: Any):
    """The model ``name`` with pretrained weights (``pretrained`` true or a local file), in eval mode, or untrained.

    With ``pretrained=False`` an ``arch.tag`` name builds the tagged
    architecture with fresh weights (in training mode, as any new model).
    ``overrides`` may change config values that leave the weights' shapes
    alone (dropout, say); others are refused.
    """
    if isinstance(pretrained, (str, os.PathLike)):
        return load_local(name, pretrained, **overrides)
    checked = verified(resolve(name))
    card = checked.card
    if not pretrained:
        return _model_class(card.arch)(_config(card.arch, card.config, overrides))
    return load(checked.data, checked.header, card.arch, card.config, overrides)


def load_local(name: str, path: str | os.PathLike, **overrides: Any):
    """Weights from a local ``.safetensors`` file: its card, else a run's ``dpzoo.model`` record, else ``name``."""
    text = os.fspath(path)
    if text.startswith(sources.SCHEMES):
        raise DpzooError(
            f"pretrained={text!r}: a URL needs its sha256; register it from a plugin with "
            "register('arch.tag', url, sha256=..., size=...), or download it and pass the local path"
        )
    path = Path(text).expanduser()
    if not path.is_file():
        raise DpzooError(f"pretrained={text!r}: no such file")
    if path.suffix != ".safetensors":
        raise DpzooError(f"pretrained={text!r}: dpzoo loads only .safetensors files (never pickles)")
    data = _read_whole(path)
    header = parse_header(data, len(data), path)
    if CARD_KEY in header.metadata:
        card = card_from_header(header)
        _check_tensors(data, header, card)
        arch, config = card.arch, card.config
    elif "dpzoo.model" in header.metadata:  # a run's final model.safetensors
        section = json.loads(header.metadata["dpzoo.model"])
        arch, config = section.pop("name"), section
    else:
        arch, config = ZooName.parse(name).arch, {}
    if ZooName.parse(name).arch != arch:
        raise ConfigError(
            f"{path} holds weights for {arch!r}, not {name!r}; call create_model({arch!r}, pretrained=...)"
        )
    return load(data, header, arch, config, overrides)


def _read_whole(path: Path) -> bytearray:
    """The file's bytes in a private buffer that the tensors are built over: one copy, from the file."""
    with open(path, "rb", buffering=0) as handle:
        data, count = bytearray(os.fstat(handle.fileno()).st_size), 0
        with memoryview(data) as view:
            while count < len(data) and (n := handle.readinto(view[count:])):
                count += n
    if count != len(data):
        raise IntegrityError(f"{path} changed length while it was read; load it again once it is written")
    return data


def _model_class(arch: str):
    return get("model", arch).load()


def _config(arch: str, config: dict[str, Any], overrides: dict[str, Any]):
    return validate(_model_class(arch).Config, {**config, **overrides}, f"model {arch!r}")


def load(data: bytearray | bytes, header: Header, arch: str, config: dict[str, Any], overrides: dict[str, Any]):
    """Build ``arch`` without drawing initial parameters, then load every tensor of ``data`` into it, in eval mode.

    The file's names, shapes and dtypes must be the model's own (every
    parameter and persistent buffer); a difference is explained from the
    header before any tensor is built: missing and unexpected keys, shapes
    and dtypes that differ.
    """
    from .lazy_init import parameter_init_skipped

    cls, cfg = _model_class(arch), _config(arch, config, overrides)
    with parameter_init_skipped():
        model = cls(cfg)
    expected = {k: (tuple(v.shape), str(v.dtype).removeprefix("torch.")) for k, v in model.state_dict().items()}
    stored = {k: (t.shape, TORCH_DTYPES[t.dtype]) for k, t in header.tensors.items()}
    if expected != stored:
        raise _mismatch(header.path, arch, expected, stored, overrides)
    # assign: the module takes the tensors built over the checked bytes as its own (no copy at all)
    model.load_state_dict(tensors_over(data, header), strict=True, assign=True)
    return model.eval()


def tensors_over(data: bytearray | bytes, header: Header) -> dict[str, Any]:
    """The file's tensors as views of ``data`` itself, laid out as ``header`` says.

    safetensors' own ``load`` of the bytes would build the same tensors from the
    same bytes but copy each one first: on mlp.mnist (2.5 MB) that copy was a
    third of the load (benchmarks/zoo_load.py). The buffer is wrapped once
    (``torch.frombuffer``) and each tensor is a slice of it. A tensor whose
    start is not a multiple of its element size, or a big-endian host, gets a copy.
    """
    import sys

    import torch

    if sys.byteorder != "little" or isinstance(data, bytes):
        from safetensors.torch import load as tensors_from

        return tensors_from(bytes(data))
    whole = torch.frombuffer(data, dtype=torch.uint8)
    out = {}
    for name, t in header.tensors.items():
        dtype = getattr(torch, TORCH_DTYPES[t.dtype])
        start = header.data_start + t.begin
        tensor = whole[start : header.data_start + t.end]
        if start % dtype.itemsize:
            tensor = tensor.clone()
        out[name] = tensor.view(dtype).reshape(t.shape)
    return out


def _mismatch(path: Path, arch: str, expected: dict, stored: dict, overrides: dict) -> DpzooError:
    missing = sorted(set(expected) - set(stored))
    unexpected = sorted(set(stored) - set(expected))
    common = sorted(set(expected) & set(stored))
    shapes = [
        f"{k}: model {list(expected[k][0])}, file {list(stored[k][0])}"
        for k in common
        if expected[k][0] != stored[k][0]
    ]
    dtypes = [f"{k}: model {expected[k][1]}, file {stored[k][1]}" for k in common if expected[k][1] != stored[k][1]]
    detail = "; ".join(
        part
        for part in (
            f"missing keys {missing}" if missing else "",
            f"unexpected keys {unexpected}" if unexpected else "",
            f"different shapes: {', '.join(shapes)}" if shapes else "",
            f"different dtypes: {', '.join(dtypes)}" if dtypes else "",
        )
        if part
    )
    if overrides and (missing or unexpected or shapes):
        return ConfigError(
            f"the overrides {sorted(overrides)} change the shapes of the weights of {arch!r}, so the pretrained file "
            f"{path} no longer fits ({detail}); leave them out, or build without pretrained weights"
        )
    return IntegrityError(f"{path} does not fit the architecture {arch!r}: {detail}")
