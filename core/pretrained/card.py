"""The model card: everything needed to use, trust and rebuild one set of weights.

A card travels inside its ``.safetensors`` file (header metadata key
``dpzoo.card``, JSON), so weights and the settings they need cannot be
separated. It records the architecture and its full resolved config, the
data and a fingerprint of each exact split, the metrics with the split and
the procedure that produced them, the command and full run config that
trained the weights, and the provenance (dpzoo version, seed, licences, date).
Reading a card needs neither torch nor the tensors.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..errors import IntegrityError
from ..registry import ZooName
from .safetensors_file import Header, read_header

CARD_KEY = "dpzoo.card"
DEFAULT_TOLERANCE = 1e-6  # absolute; re-evaluation on CPU in float32 reproduces values to ~1e-7
# absolute, per metric, for a rebuild whose predictions are identical but whose kernels differ (AVX2 vs
# AVX-512 orders float sums differently): the digits CNNs' losses moved by ~3e-3 that way, accuracies by 0
DEFAULT_REBUILD_TOLERANCE = 1e-2


class Record(BaseModel):
    # Unknown fields are kept, so a card written by a newer dpzoo still reads.
    model_config = ConfigDict(extra="allow", protected_namespaces=())


class MetricRecord(Record):
    name: str = Field(description="Full metric name, e.g. 'test/accuracy'")
    value: float = Field(description="Its value for these weights")
    split: str = Field(description="The data split it was computed on")
    how: str = Field(description="How it was computed, in words")

    def __str__(self) -> str:
        return f"{self.name} = {self.value:.6g} ({self.how})"


class DataRecord(Record):
    name: str = Field(description="Registered dataset name")
    config: dict[str, Any] = Field(description="The dataset's full resolved config (its 'name' included)")
    fingerprints: dict[str, str] = Field(description="split -> sha256 of its exact examples (see dpzoo.fingerprint)")
    examples: dict[str, int] = Field({}, description="split -> number of examples")
    licence: str = Field("", description="The data's licence")


class Evaluation(Record):
    device: str = Field("cpu", description="Where metrics were computed")
    precision: str = Field("32", description="Floating-point precision of the forward pass")
    batch_size: int = Field(1024, description="Evaluation batch size")


class Environment(Record):
    """What bitwise repeatable CPU training depends on besides the seed."""

    torch: str = Field("", description="PyTorch version that trained the weights")
    threads: int | None = Field(
        None, description="torch.get_num_threads() during training (reductions split by thread)"
    )
    cpu_capability: str = Field("", description="torch.backends.cpu.get_cpu_capability(): the SIMD kernels used")
    device: str = Field("cpu", description="Device that trained the weights")

    def kernels(self) -> str:
        """What trained it besides torch: the CPU's kernels and threads, or the device's (GPU kernels need not repeat)."""
        if self.device == "cpu":
            return f"{self.cpu_capability or '?'} kernels, {self.threads or '?'} CPU thread(s) (a bitwise rebuild needs the same)"
        return (
            f"{self.threads or '?'} CPU thread(s) beside it ({self.device} kernels need not repeat a run bit for bit)"
        )


class ModelCard(Record):
    """A typed record of one pretrained entry; ``render()`` is what ``dpzoo info`` prints."""

    format: int = 1
    name: str = Field(description="arch.tag")
    arch: str = Field(description="Registered model name that builds the architecture")
    summary: str = ""
    config: dict[str, Any] = Field(description="The model's full resolved config, without 'name'")
    data: DataRecord
    metrics: list[MetricRecord]
    evaluation: Evaluation = Evaluation()
    tolerance: float = Field(DEFAULT_TOLERANCE, description="Absolute tolerance for re-evaluating each metric")
    command: str = Field(description="The exact command that trained the weights")
    run: dict[str, Any] = Field(description="The run's full resolved config (loss, optimiser, trainer, ...)")
    environment: Environment = Environment()
    dpzoo_version: str
    seed: int
    licence: str = "MIT"
    created: str = Field(description="When the file was published (ISO 8601)")
    weights_sha256: str = Field(description="sha256 over the tensors only (names, dtypes, shapes, bytes)")
    rebuild_tolerance: dict[str, float] = Field(
        {}, description="metric -> absolute difference a rebuild with other CPU kernels may show, predictions identical"
    )
    notes: list[str] = []

    @property
    def tag(self) -> str:
        return ZooName.parse(self.name).tag

    @property
    def headline(self) -> MetricRecord | None:
        """The first test metric, else the first metric."""
        return next((m for m in self.metrics if m.split == "test"), self.metrics[0] if self.metrics else None)

    @property
    def metric_values(self) -> dict[str, float]:
        """The card's figures by full name, e.g. ``card.metric_values["test/accuracy"]`` (a fresh dict)."""
        return {m.name: m.value for m in self.metrics}

    def metric(self, name: str) -> MetricRecord:
        for m in self.metrics:
            if m.name == name:
                return m
        raise KeyError(f"card {self.name!r} has no metric {name!r}; it has {[m.name for m in self.metrics]}")

    def to_metadata(self) -> dict[str, str]:
        return {CARD_KEY: self.model_dump_json()}

    def render(self) -> str:
        lines = [f"{self.name}: {self.summary}".rstrip(": "), f"  architecture: {self.arch}"]
        for key, value in self.config.items():
            lines.append(f"    {key} = {json.dumps(value)}")
        data_options = {k: v for k, v in self.data.config.items() if k != "name"}
        lines.append(f"  data: {self.data.name} {json.dumps(data_options) if data_options else ''}".rstrip())
        for split, digest in self.data.fingerprints.items():
            count = self.data.examples.get(split)
            lines.append(f"    {split}: {f'{count} examples, ' if count else ''}fingerprint {digest[:16]}...")
        lines.append(f"  metrics (re-checked to +-{self.tolerance:g}):")
        for m in self.metrics:
            lines.append(f"    {m.name} = {m.value:.6f}")
        if self.metrics:
            lines.append(f"    how: {self.metrics[0].how}")
        on_cpu = self.environment.device == "cpu"
        if self.rebuild_tolerance:
            shown = ", ".join(f"{k} +-{v:g}" for k, v in self.rebuild_tolerance.items())
            lines.append(
                f"  a rebuild on other CPU kernels reproduces it with identical predictions and {shown}"
                if on_cpu
                else f"  trained on {self.environment.device}, whose kernels need not repeat a run bit for bit: a "
                f"rebuild is not promised identical predictions (tolerances recorded for CPU kernels: {shown})"
            )
        lines += [
            f"  command: {self.command}",
            f"  trained with: torch {self.environment.torch or '?'}, device {self.environment.device}, "
            f"{self.environment.kernels()}",
            f"  seed: {self.seed}   dpzoo {self.dpzoo_version}   published {self.created}",
            f"  licence: weights {self.licence}; data {self.data.licence or 'unknown'}",
            f"  weights sha256 (tensors only): {self.weights_sha256}",
        ]
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


def card_from_header(header: Header) -> ModelCard:
    """The card stored in a file's header, or an error that says the file has none."""
    text = header.metadata.get(CARD_KEY)
    if text is None:
        raise IntegrityError(
            f"{header.path} has no model card (no {CARD_KEY!r} in its metadata); "
            "publish a finished run with `dpzoo zoo publish RUN_DIR --name arch.tag`"
        )
    try:
        return ModelCard.model_validate_json(text)
    except ValueError as exc:
        raise IntegrityError(f"{header.path}: its model card does not parse: {exc}") from None


def read_card(path) -> ModelCard:
    return card_from_header(read_header(path))
