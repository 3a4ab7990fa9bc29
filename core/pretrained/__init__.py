"""The zoo: pretrained weights by name, their model cards, their checks and their rebuilds.

An entry is named ``arch.tag`` (``mlp.digits``): ``arch`` is a registered
model, ``tag`` says what the weights were trained for. ``arch`` alone means
its default tag. Entries come from two places:

* the files shipped in ``dpzoo.zoo`` and listed in its ``index.json``
  (file, sha256, size, summary, headline metric), qualified as ``zoo:NAME``;
* any plugin's ``dpzoo_register_pretrained`` hook:
  ``register("arch.tag", "https://...", sha256=..., size=..., summary=..., default=False)``,
  qualified as ``PLUGIN:NAME``; the file is downloaded into the cache once.

The package's modules, each one job:

* ``entries``   - the entries: the shipped index and the plugins' registrations, listing, resolving a name;
* ``loading``   - a file's card and weights into a model (``create_model(..., pretrained=True)``);
* ``card``      - the model card a file's header carries;
* ``safetensors_file`` - a safetensors header, read without torch;
* ``sources``   - the download cache: fetching URLs, hashing files;
* ``lazy_init`` - building a model without drawing parameters that the load replaces;
* ``data``      - ``load_data``: a card's (or run's) data section read into CPU splits with their
  fingerprints, the public helper for plugin commands that evaluate pretrained weights;
* ``subsets``   - the quick re-check of a card on the first examples of its splits;
* ``publish``, ``rebuild``, ``verify`` - making an entry from a run, training it again, re-checking it;
* ``cli``       - ``dpzoo zoo publish|build|verify``.
"""

from __future__ import annotations

from .card import ModelCard
from .data import SplitData, load_data
from .entries import catalogue, is_pretrained_name, list_pretrained, list_rows, resolve, zoo_dir
from .loading import create_pretrained, model_card

__all__ = [
    "ModelCard",
    "SplitData",
    "catalogue",
    "create_pretrained",
    "is_pretrained_name",
    "list_pretrained",
    "list_rows",
    "load_data",
    "model_card",
    "resolve",
    "zoo_dir",
]
