"""The catalogue of pretrained entries: the shipped index and the plugins' registrations.

``index.json`` is validated with a schema before use: every ``file`` is a
plain file name inside the zoo directory (no separator, no ``..``, not
absolute), every entry has its sha256 and size. A plugin's registration needs
a URL, the file's sha256 and its size. Listing reads only the index and the
registry: no torch import, no weights read, nothing remembered between calls.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator
from pydantic_core import ErrorDetails

from ..components import registry
from ..errors import AmbiguousNameError, DpzooError, IntegrityError, UnknownNameError
from ..registry import ZooName
from . import sources

INDEX = "index.json"
SHIPPED = "zoo"  # the source name of the weights shipped with dpzoo
SHA256 = r"^[0-9a-f]{64}$"


class Headline(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="The card's headline metric, e.g. 'test/accuracy'")
    value: float = Field(description="Its value on the card")

    def text(self) -> str:
        """``name value`` with the value to 4 significant digits (a tiny MAE stays readable: 3.442e-05)."""
        return f"{self.name} {self.value:.4g}"


# The index's names and files are checked by pydantic's own (Rust) regex engine: a Python validator per row
# would cost more than the rest of the index's validation, and a fresh process pays it on every first load.
ENTRY_NAME = r"^[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*$"  # arch.tag, as ZooName.is_entry
# An hf:// URL (parsed in full by the index's validator), or a plain name: no separator, no NUL, not . or ..
FILE_NAME = r"^(hf://.*|[^./\\\x00][^/\\\x00]*|\.[^./\\\x00][^/\\\x00]*|\.\.[^/\\\x00]+)$"


class IndexRow(BaseModel):
    """One entry of ``index.json``: what the index vouches for about one file."""

    model_config = ConfigDict(extra="forbid")
    file: str = Field(
        pattern=FILE_NAME, description="File name inside the zoo directory, or an hf://OWNER/REPO/FILE@COMMIT URL"
    )
    sha256: str = Field(pattern=SHA256, description="sha256 of the whole file")
    size: int = Field(ge=0, description="Size of the file in bytes")
    weights_sha256: str | None = Field(
        None,
        pattern=SHA256,
        description="The card's weights_sha256, which `dpzoo zoo publish` computed from these bytes' tensors "
        "(a load compares it with the card instead of hashing the tensors again; `dpzoo zoo verify` re-hashes them)",
    )
    default: bool = Field(False, description="Whether this is its architecture's default tag")
    summary: str = Field("", description="One line saying what the weights are (the card's summary)")
    headline: Headline | None = Field(None, description="The card's headline metric")

    @model_validator(mode="after")
    def _hub_url(self) -> IndexRow:
        if self.file.startswith(sources.hub.SCHEME):
            try:
                sources.hub.parse(self.file)
            except DpzooError as exc:  # pydantic reports ValueErrors as schema errors, with the row's place
                raise ValueError(str(exc)) from None
        return self


class Index(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: int = Field(1, description="Index format version")
    entries: dict[Annotated[str, StringConstraints(pattern=ENTRY_NAME)], IndexRow] = Field(
        {}, description="arch.tag -> its row"
    )


def _schema_problem(error: ErrorDetails) -> str:
    """One validation error of ``index.json``, said in the index's terms."""
    place = ".".join(str(p) for p in error["loc"])
    if error["type"] == "string_pattern_mismatch":
        if error["loc"][-1] == "[key]":
            return f"entry names must be arch.tag, got {error['input']!r}"
        if error["loc"][-1] == "file":
            return f"{place}: {error['input']!r} is not a plain file name inside the zoo directory (nor an hf:// URL)"
    return f"{place}: {error['msg']}"


class UnknownPretrainedError(UnknownNameError):
    def __init__(self, name: str, known: list[str]):
        super().__init__("pretrained model", name, known)
        hint = f" Did you mean: {', '.join(self.suggestions)}?" if self.suggestions else ""
        self.args = (f"no pretrained weights named {name!r}.{hint} (`dpzoo list --pretrained` lists them all.)",)


@dataclass(frozen=True)
class Weights:
    """Where one pretrained entry lives and what its index row or registration vouches for."""

    name: str  # arch.tag
    source: str  # "zoo" or the registering plugin
    location: str  # a file path (shipped) or a URL
    sha256: str
    size: int
    summary: str = ""
    headline: Headline | None = None
    default: bool = False
    weights_sha256: str | None = None  # the card's, as the index row records it (None: hash the tensors on load)

    @property
    def arch(self) -> str:
        return ZooName.parse(self.name).arch

    @property
    def qualified_name(self) -> str:
        return f"{self.source}:{self.name}"

    @property
    def is_url(self) -> bool:
        return self.location.startswith(sources.SCHEMES)

    def read(self, check=None) -> tuple[bytearray, Any]:
        """The file's bytes, read once and checked against the recorded size and sha256 (downloaded first
        for a URL), and ``check``'s result, computed as they are read (see ``sources.read_verified``)."""
        if self.is_url:
            return sources.fetch(self.location, self.sha256, self.size, self.qualified_name, check)
        return sources.read_verified(self.location, self.sha256, self.size, self.qualified_name, check)


# -- the catalogue --------------------------------------------------------------
@cache
def zoo_dir() -> Path:
    """The directory of the weights shipped with dpzoo (the ``dpzoo.zoo`` package)."""
    from importlib.util import find_spec

    spec = find_spec("dpzoo.zoo")
    if spec is None or not spec.submodule_search_locations:
        raise DpzooError("the package dpzoo.zoo (the shipped weights) is not installed; reinstall dpzoo")
    return Path(next(iter(spec.submodule_search_locations))).absolute()


# index.json's bytes -> its validated Index; keyed by the bytes themselves, so it cannot disagree with them
_indexes: dict[bytes, Index] = {}


def read_index(directory: Path) -> Index:
    """``directory/index.json``, read on every call and validated (an empty index when there is none).

    The ``Index`` may be shared with other callers: copy it before changing it.
    """
    path = directory / INDEX
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        return Index()
    if text in _indexes:
        return _indexes[text]
    try:
        index = _indexes[text] = Index.model_validate_json(text)  # pydantic's own JSON parser: one step
        return index
    except (ValueError, RecursionError) as exc:  # ValidationError is a ValueError
        detail = (
            "; ".join(_schema_problem(e) for e in exc.errors()[:3]) if isinstance(exc, ValidationError) else str(exc)
        )
        raise IntegrityError(f"{path} is not a valid zoo index ({detail}); reinstall dpzoo or republish it") from None


def _shipped() -> list[Weights]:
    directory = zoo_dir()
    return [_row_weights(directory, name, row) for name, row in read_index(directory).entries.items()]


def _row_weights(directory: Path, name: str, row: IndexRow) -> Weights:
    return _weights(name, SHIPPED, _location(directory, row.file), row)


def _weights(name: str, source: str, location: str, row: IndexRow) -> Weights:
    """What ``row`` (an index row or a validated registration) vouches for, at ``location``."""
    return Weights(
        name, source, location, row.sha256, row.size, row.summary, row.headline, row.default, row.weights_sha256
    )


def _location(directory: Path, file: str) -> str:
    """An index row's file: a URL (fetched into the cache) or a name inside the zoo directory."""
    return file if file.startswith(sources.hub.SCHEME) else str(directory / file)


def _registered() -> list[Weights]:
    import warnings

    out = []
    for entry in registry().entries("pretrained"):
        info = entry.info
        try:
            row = IndexRow(file="registered", **{k: v for k, v in info.items() if k in IndexRow.model_fields})
            problem = None
        except ValidationError as exc:
            row, problem = (
                None,
                f"it needs sha256=<64 lowercase hex digits> and size=<bytes> of the file ({exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']})",
            )
        if not ZooName.parse(entry.name).is_entry:
            problem = "its name is not of the form arch.tag"
        elif not isinstance(entry.target, str) or not entry.target.startswith(sources.SCHEMES):
            problem = f"its target must be a URL starting with {', '.join(sources.SCHEMES)}"
        if problem or row is None:
            warnings.warn(
                f"plugin {entry.plugin!r} registered pretrained {entry.name!r}, skipped: {problem}", stacklevel=2
            )
            continue
        out.append(_weights(entry.name, entry.plugin, entry.target, row))
    return out


def catalogue() -> list[Weights]:
    """Every pretrained entry, shipped and registered, sorted by name."""
    return sorted((*_shipped(), *_registered()), key=lambda w: (w.name, w.source != SHIPPED, w.source))


def _named(entry: str) -> list[Weights]:
    """The shipped and registered entries called ``entry`` (``arch.tag``), without building the whole catalogue."""
    directory = zoo_dir()
    row = read_index(directory).entries.get(entry)
    shipped = [] if row is None else [_row_weights(directory, entry, row)]
    return shipped + [w for w in _registered() if w.name == entry]


def resolve(name: str) -> Weights:
    """The entry for ``arch.tag``, ``source:arch.tag`` or ``arch`` (its default tag)."""
    parsed = ZooName.parse(name)
    matches = [w for w in _named(parsed.entry) if name in (w.name, w.qualified_name)] if parsed.tag else []
    if len(matches) == 1:  # the common case: one entry of that name, found without listing every other
        return matches[0]
    entries = catalogue()
    matches = [w for w in entries if name in (w.name, w.qualified_name)]
    if not matches and parsed.source is None and not parsed.tag:  # an architecture alone: its default tag
        tags = [w for w in entries if w.arch == name]
        matches = [w for w in tags if w.default] or (tags if len(tags) == 1 else [])
        if not matches and tags:
            raise DpzooError(
                f"{name!r} has several pretrained tags and none is its default: {', '.join(w.name for w in tags)}; "
                "name one of them"
            )
    if not matches:
        raise UnknownPretrainedError(name, [w.name for w in entries] + [w.arch for w in entries])
    if len(matches) > 1:
        raise AmbiguousNameError("pretrained model", name, [w.qualified_name for w in matches])
    return matches[0]


def is_pretrained_name(name: str) -> bool:
    """Whether ``name`` reads as ``arch.tag`` rather than a registered model name."""
    if not ZooName.parse(name).tag:
        return False
    return not any(name in (e.name, e.qualified_name) for e in registry().entries("model"))


def list_rows(pattern: str = "*") -> list[dict[str, Any]]:
    """What ``dpzoo list --pretrained`` shows: name, headline metric, summary, source, whether it is the default.

    ``default`` marks the tag that the architecture's name alone loads
    (``create_model("mlp", pretrained=True)``).

    An entry is named as it resolves: ``arch.tag`` when no other source has
    that name, ``source:arch.tag`` when several do.
    """
    entries = catalogue()
    counts: dict[str, int] = {}
    for w in entries:
        counts[w.name] = counts.get(w.name, 0) + 1
    rows = []
    for w in entries:
        if fnmatch.fnmatchcase(w.name, pattern) or fnmatch.fnmatchcase(w.qualified_name, pattern):
            name = w.name if counts[w.name] == 1 else w.qualified_name
            headline = w.headline.text() if w.headline else ""
            rows.append(
                {"name": name, "headline": headline, "summary": w.summary, "source": w.location, "default": w.default}
            )
    return rows


def list_pretrained(pattern: str = "*") -> list[str]:
    """The names ``list_rows`` shows for entries matching the wildcard ``pattern`` (e.g. ``"mlp*"``), sorted."""
    return sorted(row["name"] for row in list_rows(pattern))
