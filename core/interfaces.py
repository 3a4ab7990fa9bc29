"""The interfaces every component implements.

* **Model** - an ``nn.Module`` built as ``Model(config)``. In automatic mode the
  trainer calls ``output = model(batch)`` and the loss; in manual mode the
  model defines ``training_step(batch, ctx)`` and calls ``ctx.optimise(name,
  loss)`` for its optimisers (``parameter_groups()`` names them), zero, one or
  several times per batch, and may define ``evaluation_step(batch, ctx)``
  (a dict of per-batch values). Either mode may define ``log_media(ctx)``.
* **Loss** - ``loss(output, batch) -> LossOutput(total, terms)``.
* **Relaxation** - ``hard(x)``, ``soft(x, tau)`` and ``straight_through(x, tau)``.
* **Dataset** - ``load()`` returns a ``datasets.DatasetDict`` with train,
  validation and test splits; ``info()`` says what a model needs to know.
* **Metric** - ``metric(output, batch)`` returns per-example values and an
  evaluation reports their mean; or, dataset-level, ``reset()``,
  ``update(output, batch)`` per batch and ``compute() -> float`` at the end.

Optimiser and scheduler factories are plain functions with a ``Config``
attribute: ``factory(params, config)`` and ``factory(optimizer, config,
total_steps)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import Tensor, nn

from .config import Config
from .errors import ConfigError

if TYPE_CHECKING:
    import datasets

Batch = Mapping[str, Tensor]


AnyConfig = Config  # the base class, under a name that each class's own ``Config`` attribute does not shadow


class Model(nn.Module):
    """Base class for dpzoo models.

    Subclasses set ``Config`` (a :class:`dpzoo.Config`), build their layers in
    ``__init__(config)`` and implement ``forward(batch)``. Config fields named
    like keys of the dataset's ``info()`` (``input_shape``, ``num_classes``)
    are filled from the data when the user leaves them unset; those listed in
    ``data_fields`` must then have a value, or building the model is an error
    that says so.
    """

    Config: ClassVar[type[Config]] = Config
    data_fields: ClassVar[tuple[str, ...]] = ()  # config fields the data fills; None there is an error
    input_key: ClassVar[str] = "x"
    default_loss: ClassVar[str | None] = None
    default_metrics: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: AnyConfig | None = None, **overrides: Any) -> None:
        super().__init__()
        from .config import validate

        if config is None or overrides:
            base: dict[str, Any] = config.model_dump() if config is not None else {}
            config = validate(self.Config, {**base, **overrides}, type(self).__name__)
        self.config = config
        missing = [name for name in self.data_fields if getattr(config, name) is None]
        if missing:
            raise ConfigError(
                f"model {type(self).__name__} needs {' and '.join(missing)}: set them "
                f"({', '.join(f'model.{name}=...' for name in missing)}) or train with --data so they are read from the data"
            )

    def inputs(self, batch: Batch | Tensor) -> Tensor:
        """The model's input tensor, from a batch dict or a bare tensor."""
        return batch if isinstance(batch, Tensor) else batch[self.input_key]

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Named parameter groups, one optimiser each (manual mode overrides this)."""
        return {"model": [p for p in self.parameters() if p.requires_grad]}


@dataclass
class LossOutput:
    """A loss value and its named terms (ELBO = reconstruction + KL, say)."""

    total: Tensor
    terms: dict[str, Tensor] = field(default_factory=dict)

    @classmethod
    def of(cls, value: LossOutput | Tensor | Mapping[str, Tensor]) -> LossOutput:
        """Accept a LossOutput, a scalar tensor, or a dict with a ``"loss"`` key."""
        if isinstance(value, LossOutput):
            return value
        if isinstance(value, Tensor):
            return cls(value)
        if isinstance(value, Mapping) and "loss" in value:
            return cls(value["loss"], {k: v for k, v in value.items() if k != "loss"})
        raise TypeError(f"a loss must return a LossOutput, a tensor or a dict with 'loss', got {type(value)}")


class Loss:
    """Base class for losses with options: ``Loss(config)(output, batch)``."""

    Config: ClassVar[type[Config]] = Config

    def __init__(self, config: AnyConfig | None = None) -> None:
        self.config = config if config is not None else self.Config()

    def __call__(self, output: Any, batch: Batch) -> LossOutput:  # pragma: no cover - interface
        raise NotImplementedError


class Relaxation:
    """A differentiable stand-in for a discrete operation.

    ``hard(x)`` is the discrete operation, ``soft(x, tau)`` its relaxation at
    temperature ``tau``, and ``straight_through(x, tau)`` the estimator whose
    forward value is ``hard(x)`` and whose gradient is that of ``soft(x, tau)``.
    """

    Config: ClassVar[type[Config]] = Config

    def __init__(self, config: AnyConfig | None = None) -> None:
        self.config = config if config is not None else self.Config()

    def hard(self, x: Tensor) -> Tensor:  # pragma: no cover - interface
        raise NotImplementedError

    def soft(self, x: Tensor, tau: float | Tensor = 1.0) -> Tensor:  # pragma: no cover - interface
        raise NotImplementedError

    def straight_through(self, x: Tensor, tau: float | Tensor = 1.0) -> Tensor:
        # hard + (soft - stopgrad(soft)): the value is exactly hard(x) (no rounding
        # from adding and subtracting soft), the gradient is exactly soft's.
        soft = self.soft(x, tau)
        return self.hard(x).detach() + (soft - soft.detach())


class Dataset:
    """Base class for datasets: ``Dataset(config).load()`` -> ``DatasetDict``.

    ``columns`` are the splits' columns that become batch tensors. ``transform``
    runs on the device on each batch (uint8 pixels to floats, say), so the
    stored data stays compact.
    """

    Config: ClassVar[type[Config]] = Config
    columns: ClassVar[tuple[str, ...]] = ("x", "y")
    default_loss: ClassVar[str | dict[str, Any] | None] = None
    default_metrics: ClassVar[tuple[str, ...] | None] = None

    def __init__(self, config: AnyConfig | None = None) -> None:
        self.config = config if config is not None else self.Config()

    def load(self) -> datasets.DatasetDict:  # pragma: no cover - interface
        raise NotImplementedError

    def info(self) -> dict[str, Any]:
        """Facts a model reads from the data: ``{"input_shape": [1, 8, 8], "num_classes": 10}``."""
        return {}

    def transform(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        return batch

    def augmentation(self) -> Callable[[dict[str, Tensor], torch.Generator], dict[str, Tensor]] | None:
        """``None``, or a random change of training batches: ``augment(batch, generator) -> batch``.

        The trainer applies it on the device to each training batch, after
        ``transform``, never to evaluation batches. ``generator`` is a fresh
        ``torch.Generator`` on the batch's device seeded from (seed, step)
        (``dpzoo.trainer.data.augment_generator``): draw every random number
        from it, so a run is repeatable and a resumed run bit-exact.
        """
        return None

    def sequence(self) -> dict[str, Any] | None:
        """``None`` for independent examples; for one long sequence per split, how to batch it.

        A dict of ``dpzoo.trainer.sequences.SequenceSpec`` fields, e.g.
        ``{"batching": "stream", "block": 64}``: the trainer then cuts windows
        of ``block`` positions (and their one-step-shifted targets) from the
        column ``column``, and carries a model's ``carry`` between batches.
        """
        return None


class Metric:
    """Base class for metrics with options.

    Per-example: ``Metric(config)(output, batch)`` returns one value per
    example, averaged over the split. Dataset-level: define ``reset()``,
    ``update(output, batch)`` and ``compute() -> float`` instead; the
    evaluation resets, updates on every batch of the split, and reports
    ``compute()`` (a Frechet distance, bits per character weighted by tokens).
    ``higher_is_better`` sets the default mode of early stopping and of
    plateau schedules that monitor the metric.
    """

    Config: ClassVar[type[Config]] = Config
    higher_is_better: ClassVar[bool] = True

    def __init__(self, config: AnyConfig | None = None) -> None:
        self.config = config if config is not None else self.Config()

    def __call__(self, output: Any, batch: Batch) -> Tensor:  # pragma: no cover - interface
        raise NotImplementedError
