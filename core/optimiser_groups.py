"""One optimiser per parameter group: which section each group takes, checked against the model's groups.

``optimiser`` is the run's optimiser; ``optimisers.<group>`` sets a group's
own (a GAN's generator and critic). A group section that names no optimiser,
or the same one, inherits ``optimiser`` and overrides it key by key
(``--set optimisers.critic.lr=4e-4`` keeps the run's adam and its betas); one
that names another optimiser starts from that optimiser's defaults. Every
group in ``optimisers`` must be one of the model's ``parameter_groups()``.
"""

from __future__ import annotations

from typing import Any

from .errors import ConfigError, closest


def group_sections(
    base: dict[str, Any], groups: list[str], own: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """``{group: section}`` for each of the model's groups; ``base`` is the ``optimiser`` section as a dict."""
    for group in own:
        if group not in groups:
            near = closest(group, groups, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise ConfigError(
                f"optimisers.{group}: the model has no parameter group {group!r}{hint}; "
                f"its groups are {', '.join(groups)} (from parameter_groups())"
            )
    out = {}
    for group in groups:
        section = dict(own.get(group) or {})
        name = section.get("name", base["name"])
        out[group] = {**base, **section} if name == base["name"] else {"name": name, **section}
    return out


def check_cli_lr(config: dict[str, Any]) -> None:
    """``--lr`` tunes every optimiser; refuse it where a group would not take it (never ignore it)."""
    base = config.get("optimiser") or {}
    base_name = base.get("name", "adam") if isinstance(base, dict) else base
    for group, section in (config.get("optimisers") or {}).items():
        section = {"name": section} if isinstance(section, str) else (section or {})
        if "lr" in section:
            raise ConfigError(
                f"--lr sets the learning rate of every optimiser, but optimisers.{group}.lr sets its own; "
                f"drop --lr, or set each group's: --set optimisers.{group}.lr=..."
            )
        if section.get("name", base_name) != base_name:
            raise ConfigError(
                f"--lr sets the learning rate of the run's {base_name!r} optimiser, but optimisers.{group} uses "
                f"{section['name']!r}, which would not take it; set --set optimisers.{group}.lr=... instead"
            )
