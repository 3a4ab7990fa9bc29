"""``dpzoo info``'s text: a component, or the trainer, with every option, its default and what it does.

Defaults are written as one would type them after ``--set KEY=`` (YAML:
``null``, ``false``, ``[128]``), under the key the run config uses
(``model.hidden``, ``trainer.epochs``), so a line can be copied into a command.
Options that are sections of their own (``trainer.early_stopping``,
``trainer.schedules.<name>``) are listed field by field below their parent.
"""

from __future__ import annotations

import json
from types import UnionType
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel

# where a kind's options sit in a run config; metrics are named only (no options on the command line)
SECTIONS = {"model": "model", "dataset": "data", "loss": "loss", "optimiser": "optimiser", "scheduler": "scheduler"}


def typed(value: Any) -> str:
    """A default as one would write it after ``--set KEY=``."""
    from pydantic_core import to_jsonable_python

    value = to_jsonable_python(value)
    return value if isinstance(value, str) and value else json.dumps(value)


def _model_in(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """(the config class inside ``X | None`` or ``dict[str, X]``, whether it is a dict of them)."""
    args = [a for a in get_args(annotation) if a is not type(None)]
    if get_origin(annotation) in (Union, UnionType) and len(args) == 1:
        annotation = args[0]
    if get_origin(annotation) is dict:
        inner = get_args(annotation)[1]
        return (inner, True) if isinstance(inner, type) and issubclass(inner, BaseModel) else (None, False)
    return (annotation, False) if isinstance(annotation, type) and issubclass(annotation, BaseModel) else (None, False)


def option_rows(cls: type[BaseModel], prefix: str = "") -> list[tuple[str, str, str]]:
    """(key, default, description) for every field of ``cls``, nested sections spelt out."""
    rows = []
    for name, field in cls.model_fields.items():
        key = f"{prefix}{name}"
        rows.append((key, typed(field.get_default(call_default_factory=True)), field.description or ""))
        inner, keyed = _model_in(field.annotation)
        if inner is not None:
            rows += option_rows(inner, f"{key}.<name>." if keyed else f"{key}.")
    return rows


def options_block(rows: list[tuple[str, str, str]], indent: str = "    ") -> list[str]:
    width = max((len(f"{k} = {d}") for k, d, _ in rows), default=0)
    return [f"{indent}{f'{k} = {d}':<{width}}  {text}".rstrip() for k, d, text in rows]


def component(entry: Any) -> str:
    """A registered component: what it is, where it comes from, and its options under their run-config keys."""
    origin = f"plugin {entry.plugin}"
    if entry.distribution:
        origin += f", {entry.distribution} {entry.version or ''}".rstrip()
    lines = [f"{entry.name}: {entry.kind} from {origin}", f"  {entry.summary}".rstrip()]
    cls = getattr(entry.load(), "Config", None)
    section = SECTIONS.get(entry.kind)
    if cls is not None and cls.model_fields:
        how = f" (--set {section}.KEY=VALUE, or under {section}: in --config)" if section else ""
        lines += ["", f"  options{how}:"]
        lines += options_block(option_rows(cls, f"{section}." if section else ""))
    elif section:
        lines += ["", "  options: none"]
    lines += [
        "",
        f"  defined in: {entry.target if entry.is_lazy else getattr(entry.target, '__qualname__', entry.target)}",
    ]
    if entry.kind == "model":
        lines.append("  training options (epochs, batch size, logging, checkpoints): dpzoo info trainer")
    return "\n".join(lines)


def trainer() -> str:
    """The trainer's options (``trainer.*``), with the flags that set the common ones."""
    from .train_command import TRAIN_FLAGS
    from .trainer.config import TrainConfig

    flags = {key: "--" + flag.replace("_", "-") for flag, key in TRAIN_FLAGS.items() if key.startswith("trainer.")}
    rows = [
        (k, d, f"{text} [{flags[k]}]" if k in flags else text) for k, d, text in option_rows(TrainConfig, "trainer.")
    ]
    lines = [
        "trainer: the training loop's options, for every model",
        "  set them with --set trainer.KEY=VALUE, under trainer: in --config, or with the flag shown in brackets",
        "",
        "  options:",
        *options_block(rows),
    ]
    return "\n".join(lines)
