"""A model card in the Hugging Face Hub's format, rendered from the card inside a weight file.

The Hub reads a repository's ``README.md``: YAML front matter (``library_name``,
``license``, ``datasets``, ``tags``, ``metrics`` and the evaluation results as
``model-index``) above Markdown. Everything here comes from dpzoo's card, which
the file's hash covers; nothing is added that the card does not say, except the
file's own name, sha256 and size (what a registration of the uploaded file needs).
"""

from __future__ import annotations

import json

import yaml

from .card import ModelCard

# The Hub's licence ids for the licences dpzoo's cards name; any other is "other" with its name kept.
LICENCES = {
    "mit": "mit",
    "apache-2.0": "apache-2.0",
    "apache 2.0": "apache-2.0",
    "bsd-3-clause": "bsd-3-clause",
    "cc by 4.0": "cc-by-4.0",
    "cc-by-4.0": "cc-by-4.0",
    "cc by-sa 4.0": "cc-by-sa-4.0",
    "cc-by-sa-4.0": "cc-by-sa-4.0",
    "cc by-sa 3.0": "cc-by-sa-3.0",
    "cc0": "cc0-1.0",
    "cc0-1.0": "cc0-1.0",
    "gpl-3.0": "gpl-3.0",
    "public domain": "cc0-1.0",
}


def licence(text: str) -> dict[str, str]:
    """``{"license": id}`` for a licence the Hub knows, else ``{"license": "other", "license_name": ...}``."""
    known = LICENCES.get(text.strip().lower())
    return {"license": known} if known else {"license": "other", "license_name": text or "unknown"}


def task_type(card: ModelCard) -> str:
    """The Hub's task id: image classification for a classifier of images (accuracy on [C, H, W] inputs), else other."""
    shape = card.config.get("input_shape")
    is_image = isinstance(shape, list) and len(shape) == 3
    return "image-classification" if is_image and any(m.name.endswith("/accuracy") for m in card.metrics) else "other"


def front_matter(card: ModelCard) -> dict:
    """The YAML metadata the Hub reads, as a dict (``yaml.safe_dump`` writes it)."""
    splits: dict[str, list] = {}
    for m in card.metrics:
        splits.setdefault(m.split, []).append({"type": m.name.rpartition("/")[2], "name": m.name, "value": m.value})
    results = [
        {
            "task": {"type": task_type(card), "name": card.arch},
            "dataset": {"name": card.data.name, "type": card.data.name, "split": split},
            "metrics": metrics,
        }
        for split, metrics in splits.items()
    ]
    return {
        "library_name": "dpzoo",
        **licence(card.licence),
        "datasets": [card.data.name],
        "tags": ["dpzoo", card.arch, card.data.name, "safetensors"],
        "metrics": sorted({m.name.rpartition("/")[2] for m in card.metrics}),
        "model-index": [{"name": card.name, "results": results}],
    }


def markdown(card: ModelCard, file: str, sha256: str, size: int) -> str:
    """``README.md`` for a Hub repository holding ``file`` (whose sha256 and size are given) and ``card``."""
    head = yaml.safe_dump(front_matter(card), sort_keys=False, allow_unicode=True)
    data_options = {k: v for k, v in card.data.config.items() if k != "name"}
    lines = [
        "---",
        head.rstrip("\n"),
        "---",
        "",
        f"# {card.name}",
        "",
        card.summary or f"{card.arch} weights trained with dpzoo.",
        "",
        "## Use",
        "",
        "```python",
        "import dpzoo",
        "",
        f'model = dpzoo.create_model("{card.name}", pretrained="{file}")  # this file, downloaded',
        "```",
        "",
        "or register it from a dpzoo plugin (the commit is the one this file was uploaded in):",
        "",
        "```python",
        f'register("{card.name}", "hf://OWNER/REPO/{file}@COMMIT", sha256="{sha256}", size={size})',
        "```",
        "",
        f"The model card (architecture, data fingerprints, metrics, command) is also inside `{file}`'s "
        "safetensors header, covered by its sha256; `dpzoo info FILE` prints it.",
        "",
        "## Architecture",
        "",
        f"`{card.arch}` with:",
        "",
        "| option | value |",
        "| --- | --- |",
        *[f"| `{k}` | `{json.dumps(v)}` |" for k, v in card.config.items()],
        "",
        "## Data",
        "",
        f"`{card.data.name}` {f'with `{json.dumps(data_options)}`' if data_options else ''}".rstrip()
        + f" (licence: {card.data.licence or 'unknown'}).",
        "",
        "| split | examples | fingerprint (sha256) |",
        "| --- | --- | --- |",
        *[f"| {s} | {card.data.examples.get(s, '')} | `{d}` |" for s, d in card.data.fingerprints.items()],
        "",
        "## Metrics",
        "",
        "| metric | split | value |",
        "| --- | --- | --- |",
        *[f"| {m.name} | {m.split} | {m.value:.6f} |" for m in card.metrics],
        "",
    ]
    if card.metrics:
        lines += [f"How: {card.metrics[0].how}. Re-checked by `dpzoo zoo verify` to within {card.tolerance:g}.", ""]
    env = card.environment
    lines += [
        "## Training",
        "",
        "```bash",
        card.command,
        "```",
        "",
        f"Trained with torch {env.torch or '?'} on {env.device}, {env.kernels()}, seed {card.seed}, "
        f"dpzoo {card.dpzoo_version}; published {card.created}. "
        "`dpzoo zoo build` retrains it and compares.",
        "",
        f"Weights licence: {card.licence}. Tensors' sha256: `{card.weights_sha256}`.",
        "",
    ]
    if card.notes:
        lines += ["## Notes", "", *[f"- {note}" for note in card.notes], ""]
    return "\n".join(lines)
