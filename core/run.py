"""A training run by name: the recipe behind ``dpzoo train`` and ``tools/train.py``.

A run config names each component and gives its options::

    model:     {name: mlp, hidden: [128, 64]}
    data:      {name: digits}
    loss:      {name: cross_entropy}       # default: the model's, else the data's
    optimiser: {name: adam, lr: 0.001}
    scheduler: {name: cosine}              # optional
    trainer:   {epochs: 20, batch_size: 64}

Every run writes ``LOGDIR/RUN/``: TensorBoard events, ``checkpoints/``, the
resolved ``config.json`` (every default filled in, the data's fingerprints,
the command), the final ``model.safetensors`` and ``metrics.json``.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, field_validator

from . import components, resume as resuming
from .config import merge, validate
from .errors import ConfigError
from .files import atomic_save_tensors, atomic_write_bytes
from .fingerprint import fingerprint
from .optimiser_groups import group_sections
from .provenance import environment, version
from .rundir import RunLock, check_run_name, clear_stillborn, create_run_dir, has_checkpoint, say
from .trainer import InMemorySplits, TrainConfig, Trainer, total_steps
from .trainer.distributed import Distributed
from .trainer.evaluation import direction
from .trainer.nonfinite import json_safe
from .trainer.schedules import check_model_reads, resolve_schedules
from .trainer.sequences import check_overlap
from .trainer.signals import StopOnSignal


class Section(BaseModel):
    """A component by name plus its options (checked against the component's own config)."""

    model_config = ConfigDict(extra="allow")
    name: str

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


def _section(value: Any) -> Any:
    return {"name": value} if isinstance(value, str) else value


class RunConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model: Section = Field(description="The model to train")
    data: Section = Field(description="The dataset to train on")
    loss: Section | None = Field(None, description="Loss; default: the model's, else the data's")
    optimiser: Section = Field(Section(name="adam"), description="Optimiser for every parameter group")
    optimisers: dict[str, dict[str, Any]] = Field(
        {},
        description="Per-group optimisers of a manual-mode model (a GAN's two); a group inherits 'optimiser' unless it names another",
    )
    scheduler: Section | None = Field(None, description="Learning-rate schedule, one per optimiser")
    metrics: list[str] | None = Field(None, description="Metrics; default: the model's, else the data's")
    trainer: TrainConfig = Field(TrainConfig(), description="Trainer options")
    logdir: str = Field("runs", description="Directory that holds the runs")
    run_name: str | None = Field(None, description="Run directory name; default model-data-timestamp")

    _sections = field_validator("model", "data", "loss", "optimiser", "scheduler", mode="before")(
        classmethod(lambda cls, v: _section(v))
    )

    @field_validator("optimiser", mode="before")
    @classmethod
    def _adam_by_default(cls, value: Any) -> Any:  # `--lr 0.01` alone tunes the default optimiser
        return {"name": "adam", **value} if isinstance(value, dict) and "name" not in value else value

    @field_validator("optimisers", mode="before")
    @classmethod
    def _sections_of(cls, value: Any) -> Any:
        return {k: _section(v) for k, v in value.items()} if isinstance(value, dict) else value


@dataclass
class RunResult:
    run_dir: Path
    metrics: dict[str, float]
    model: torch.nn.Module
    trainer: Trainer
    config: dict[str, Any]


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _component(kind: str, section: Section, fill: dict[str, Any] | None = None) -> tuple[Any, Any, dict[str, Any]]:
    """(target, validated config or None, resolved section with every default) for one section.

    ``fill`` supplies values the data knows (``input_shape``, ``num_classes``)
    for config fields the user left unset.
    """
    target = components.get(kind, section.name).load()
    config = components.make_config(kind, section.name, section.options, fill)
    return target, config, {"name": section.name, **(config.model_dump(mode="json") if config is not None else {})}


def _build(kind: str, section: Section) -> tuple[Any, dict[str, Any]]:
    """A ready component (``target(config)``, or a plain callable as it is) and its resolved section."""
    target, config, resolved = _component(kind, section)
    return (target if config is None else target(config)), resolved


def new_run_dir(logdir: str, run_name: str | None, default: str) -> Path:
    """The folder a new run would use (for processes that do not create it: torchrun's other ranks)."""
    if run_name:
        return Path(logdir) / check_run_name(run_name)
    return Path(logdir) / f"{default}-{time.strftime('%Y%m%d-%H%M%S')}"


def find_run(run: str | Path, logdir: str | Path = "runs") -> Path:
    """A run directory given as a path, or as a run name under ``logdir``."""
    for candidate in (Path(run), Path(logdir) / run):
        if (candidate / "config.json").exists():
            return candidate
    raise ConfigError(
        f"no run {str(run)!r}: neither {run} nor {Path(logdir) / run} holds a dpzoo run (config.json); "
        "a run stopped before it wrote config.json is started again without --resume"
    )


def load_run_config(run_dir: str | Path) -> dict[str, Any]:
    path = Path(run_dir) / "config.json"
    if not path.exists():
        raise ConfigError(f"{run_dir} is not a dpzoo run directory (no config.json)")
    return json.loads(path.read_text())


def train(
    config: RunConfig | dict[str, Any],
    *,
    resume: str | Path | None = None,
    command: str | None = None,
    callbacks=(),
    announce=None,
) -> RunResult:
    """Train the named model on the named data; see the module docstring for the layout.

    ``resume`` continues a run from its newest checkpoint that verifies (from
    step 0 if it never completed one); options it may change are applied and
    recorded (see ``dpzoo.resume``). The run's folder is locked while this
    runs (see ``dpzoo.rundir``). SIGTERM and SIGINT end training after the
    current step with a checkpoint (``dpzoo.trainer.signals.Interrupted``).
    """
    locks: list[RunLock] = []
    try:
        return _train(config, resume, command, callbacks, announce, locks)
    finally:
        for lock in locks:
            lock.release()


def _claim(cfg: RunConfig, resume: Path | None, locks: list[RunLock]) -> Path:
    """The run's folder, created (new run) or opened (resume) and locked by this process; torchrun's other ranks only name it."""
    main = Distributed.from_environment().is_main  # under torchrun only rank 0 writes files
    default = f"{cfg.model.name}-{cfg.data.name}"
    if not main:
        return Path(resume) if resume is not None else new_run_dir(cfg.logdir, cfg.run_name, default)
    if resume is None:
        run_dir, lock = create_run_dir(cfg.logdir, cfg.run_name, default)
        locks.append(lock)
        return run_dir
    locks.append(RunLock.acquire(resume))
    if not has_checkpoint(resume):
        say(f"run {resume} never completed a checkpoint (stopped before its first); training it from step 0")
        clear_stillborn(resume, keep=("config.json",))
    return Path(resume)


def _train(config, resume, command, callbacks, announce, locks) -> RunResult:
    changed: dict[str, Any] = {}
    resume_command = None
    if resume is not None:
        overrides = config.model_dump(exclude_unset=True) if isinstance(config, BaseModel) else (config or {})
        resume = find_run(resume, overrides.get("logdir", "runs"))
        saved = load_run_config(resume)
        _check_resume(resume, saved, overrides)
        kept = {k: v for k, v in saved.items() if k in RunConfig.model_fields and k not in {"logdir", "run_name"}}
        changed = resuming.changes(kept, overrides)
        config = merge(kept, {k: v for k, v in overrides.items() if k != "logdir"})
        resuming.finished_or_continue(resume, config, changed)
        command, resume_command = saved.get("command", command), command
    cfg = validate(RunConfig, config, "run")
    if cfg.run_name is not None and resume is None:
        check_run_name(cfg.run_name)
    seed_everything(cfg.trainer.seed)

    dataset, data_section = _build("dataset", cfg.data)
    dataset_dict = dataset.load()
    augment = dataset.augmentation()  # before the run directory is claimed: a bad value leaves nothing behind
    info = dataset.info()
    model_cls, model_config, model_section = _component("model", cfg.model, fill=info)
    model = model_cls(model_config)
    manual = callable(getattr(model, "training_step", None))
    if not manual:
        check_model_reads(model, cfg.trainer.schedules)

    loss_section = cfg.loss or _default_loss(model, dataset, manual)
    loss, loss_resolved = _build("loss", loss_section) if loss_section else (None, None)
    metric_names = cfg.metrics if cfg.metrics is not None else list(_default_metrics(model, dataset))
    metrics = {name: _build("metric", Section(name=name))[0] for name in metric_names}

    check_overlap(model, dataset.sequence())  # before the run directory is claimed, as above

    trainer_config = cfg.trainer
    run_dir = _claim(cfg, resume, locks)
    from_checkpoint = resume is not None and has_checkpoint(run_dir)
    stopper = StopOnSignal()
    trainer = Trainer(trainer_config, run_dir=run_dir, callbacks=[*callbacks, stopper])
    if changed:
        trainer.on_restore.append(resuming.lr_setter(changed))
    data = InMemorySplits.from_dataset_dict(
        dataset_dict,
        tuple(dataset.columns),
        trainer.device,
        dataset.transform,
        sequence=dataset.sequence(),
        augment=augment,
    )
    model.to(trainer.device)

    optimisers, optimiser_sections = {}, {}
    groups = model.parameter_groups()
    own = cfg.optimisers
    if "optimiser" not in cfg.model_fields_set:  # the model's per-group defaults, unless --optimiser chose one for all
        own = model_optimisers(getattr(model, "default_optimisers", None) or {}, own)
    sections = group_sections(cfg.optimiser.model_dump(), list(groups), own)
    for group, params in groups.items():
        factory, opt_config, resolved = _component("optimiser", Section.model_validate(sections[group]))
        optimisers[group] = factory(params, opt_config)
        optimiser_sections[group] = resolved
    schedulers, scheduler_resolved = {}, None
    if cfg.scheduler is not None:
        batches = total_steps(data, trainer_config, trainer.distributed.world_size)
        per_batch = getattr(model, "optimiser_steps_per_batch", None) or {}
        fill = _plateau_mode(cfg.scheduler, metrics)
        for group, optimiser in optimisers.items():
            # sized in this optimiser's own steps: a critic stepping 5 times per batch needs a 5 times longer schedule
            steps = max(1, int(batches * per_batch.get(group, 1)) // trainer_config.accumulate)
            factory, sched_config, scheduler_resolved = _component("scheduler", cfg.scheduler, fill=fill)
            schedulers[group] = factory(optimiser, sched_config, steps)

    resolved = {
        "model": model_section,
        "data": data_section,
        "loss": loss_resolved,
        "optimiser": optimiser_sections.get("model") or {**cfg.optimiser.model_dump()},
        "optimisers": {g: s for g, s in optimiser_sections.items()} if manual else {},
        "scheduler": scheduler_resolved,
        "metrics": metric_names,
        "trainer": {
            **trainer_config.model_dump(mode="json"),
            "schedules": {
                name: schedule.model_dump(mode="json")
                for name, schedule in resolve_schedules(
                    getattr(model, "default_schedules", None) or {}, trainer_config.schedules
                ).items()
            },
        },
        "logdir": str(run_dir.parent),
        "run_name": run_dir.name,
    }
    trainer.hparams = {k: v for k, v in resolved.items() if k not in {"logdir", "run_name"}}
    main = trainer.distributed.is_main  # under torchrun only rank 0 writes files
    if resume is not None and main:
        resuming.record(run_dir, resolved, changed, resume_command)
        if changed:
            say(
                "options changed on resume: "
                + ", ".join(f"{k} {a!r} -> {b!r}" for k, (a, b) in sorted(changed.items()))
            )
    if resume is None and main:
        record = {
            **resolved,
            "command": command,
            "dpzoo_version": version(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "data_fingerprints": {
                split: fingerprint(columns, tuple(columns)) for split, columns in data.splits.items()
            },
            "provenance": provenance(resolved),
            "environment": environment(trainer.device.type),
        }
        atomic_write_bytes(run_dir / "config.json", json.dumps(record, indent=2).encode())

    if announce is not None and main:
        announce(run_dir, resolved)
    with stopper:
        final = trainer.fit(
            model,
            data,
            optimisers=optimisers,
            loss=loss,
            schedulers=schedulers,
            metrics=metrics,
            resume=from_checkpoint,
        )
    if main:
        atomic_save_tensors(
            {k: v.detach().clone() for k, v in model.state_dict().items()},
            run_dir / "model.safetensors",
            metadata={"dpzoo.model": json.dumps(model_section)},
        )
        text = json.dumps(json_safe(final), indent=2, allow_nan=False)  # strict JSON: NaN is written as null
        atomic_write_bytes(run_dir / "metrics.json", text.encode())
    return RunResult(run_dir, final, model, trainer, resolved)


def _check_resume(run_dir: Path, saved: dict[str, Any], overrides: dict[str, Any]) -> None:
    """A resume continues the same run: refuse another model, data or optimiser, saying what to do instead.

    (A run without a checkpoint trains from step 0; other changes: ``dpzoo.resume``.)
    """
    for key in ("model", "data", "optimiser"):
        wanted = _section(overrides.get(key))
        if isinstance(wanted, dict) and "name" in wanted and wanted["name"] != (saved.get(key) or {}).get("name"):
            raise ConfigError(
                f"--resume continues {run_dir} with its {key} {saved[key]['name']!r}, not {wanted['name']!r}; "
                f"start a new run (without --resume) to train with {wanted['name']!r}"
            )
    groups = set(overrides.get("optimisers") or {}) - set(saved.get("optimisers") or {})
    if groups:
        raise ConfigError(
            f"--resume continues {run_dir} with the optimisers {sorted(saved.get('optimisers') or {}) or ['model']}; "
            f"optimisers.{sorted(groups)[0]} is not one of them"
        )


def provenance(resolved: dict[str, Any]) -> dict[str, Any]:
    """Which plugin, distribution and version provided each component of the run."""

    def origin(kind: str, name: str) -> dict[str, Any]:
        entry = components.get(kind, name)
        return {
            "name": entry.qualified_name,
            "plugin": entry.plugin,
            "distribution": entry.distribution,
            "version": entry.version,
        }

    out = {"model": origin("model", resolved["model"]["name"]), "data": origin("dataset", resolved["data"]["name"])}
    if resolved.get("loss"):
        out["loss"] = origin("loss", resolved["loss"]["name"])
    out["metrics"] = {name: origin("metric", name) for name in resolved["metrics"]}
    groups = resolved["optimisers"] or {"model": resolved["optimiser"]}
    out["optimisers"] = {group: origin("optimiser", section["name"]) for group, section in groups.items()}
    if resolved.get("scheduler"):
        out["scheduler"] = origin("scheduler", resolved["scheduler"]["name"])
    return out


def model_optimisers(defaults: dict[str, dict[str, Any]], own: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``optimisers.<group>`` over the model's ``default_optimisers`` (a GAN's Adam with beta_1 = 0.5), key by key.

    A group section that names another optimiser than the default replaces it whole.
    """
    out = dict(own)
    for group, default in defaults.items():
        mine = own.get(group) or {}
        out[group] = {**default, **mine} if mine.get("name", default["name"]) == default["name"] else mine
    return out


def _default_loss(model, dataset, manual: bool) -> Section | None:
    """The model's ``default_loss`` (a name or a section such as ``{"name": "mse", "target": "x"}``), else the data's."""
    value = getattr(model, "default_loss", None)
    if value is None and not manual:
        value = getattr(dataset, "default_loss", None)
    if value is None:
        if manual:
            return None
        raise ConfigError("no loss given and neither the model nor the data names a default: pass --loss NAME")
    return Section.model_validate(_section(value))


def _default_metrics(model, dataset) -> tuple[str, ...]:
    """The model's ``default_metrics`` when set (``()`` means none), else the data's."""
    own = getattr(model, "default_metrics", None)
    return tuple(own) if own is not None else tuple(getattr(dataset, "default_metrics", None) or ())


def _plateau_mode(section: Section, metrics: dict[str, Any]) -> dict[str, str]:
    """For a schedule that watches a value (``monitor``) and leaves ``mode`` unset: the metric's direction."""
    cls = getattr(components.get("scheduler", section.name).load(), "Config", None)
    fields = getattr(cls, "model_fields", {})
    if "monitor" not in fields or "mode" not in fields:
        return {}
    monitor = section.options.get("monitor") or fields["monitor"].default
    return {"mode": direction(monitor, metrics)}
