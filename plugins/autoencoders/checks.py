"""Checks on the data that a model's likelihood needs, with errors that name the key to change."""

from __future__ import annotations

from torch import Tensor

import dpzoo


def check_unit_interval(x: Tensor, setting: str, instead: str) -> None:
    """Raise a ``ConfigError`` naming ``setting`` (``"model.decoder=bernoulli"``) unless x lies in [0, 1].

    Binary cross-entropy (a Bernoulli likelihood) is defined only for targets
    in [0, 1]; ``instead`` says which setting suits other data.
    """
    low, high = float(x.min()), float(x.max())
    if low < 0 or high > 1:
        raise dpzoo.ConfigError(
            f"{setting} needs data in [0, 1], but the inputs range over [{low:.4g}, {high:.4g}]. "
            f"Use unnormalised pixels (data.normalise=false) or binarised data (--data binarised_mnist, "
            f"binarised_digits), or {instead} for real-valued data."
        )
