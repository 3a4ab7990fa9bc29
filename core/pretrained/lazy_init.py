"""Building a model whose parameters are about to be replaced, without drawing them first.

A pretrained load overwrites every parameter, so the random initialisation a
module's constructor performs (``nn.Linear`` fills its weight with
``kaiming_uniform_``) is wasted work; for a 784x784 layer it costs more than
reading the file. Inside ``parameter_init_skipped()`` the functions of
``torch.nn.init`` leave ``nn.Parameter`` tensors as allocated (uninitialised)
when called from this thread; buffers, and every other thread, are initialised
as usual. The caller must then load every parameter (``load_state_dict(...,
strict=True)``), which ``pretrained`` does.
"""

from __future__ import annotations

import functools
import threading

import torch
from torch import nn

_INIT_FUNCTIONS = (
    "uniform_",
    "normal_",
    "trunc_normal_",
    "constant_",
    "ones_",
    "zeros_",
    "eye_",
    "dirac_",
    "xavier_uniform_",
    "xavier_normal_",
    "kaiming_uniform_",
    "kaiming_normal_",
    "orthogonal_",
    "sparse_",
)
_lock = threading.Lock()
_active: dict[int, int] = {}  # thread id -> nesting depth
_wrapped: dict[str, tuple] = {}  # name -> (original, wrapper), made once


def _skipping(original):
    @functools.wraps(original)
    def init(tensor, *args, **kwargs):
        if isinstance(tensor, nn.Parameter) and _active.get(threading.get_ident()):
            return tensor
        return original(tensor, *args, **kwargs)

    return init


def _install() -> None:
    for name in _INIT_FUNCTIONS:
        current = getattr(torch.nn.init, name, None)
        if current is None:
            continue
        pair = _wrapped.get(name)
        if pair is None or current is not pair[1] and current is not pair[0]:
            pair = _wrapped[name] = (current, _skipping(current))
        setattr(torch.nn.init, name, pair[1])


def _uninstall() -> None:
    for name, (original, wrapper) in _wrapped.items():
        if getattr(torch.nn.init, name, None) is wrapper:
            setattr(torch.nn.init, name, original)


class parameter_init_skipped:  # noqa: N801 - used like a function: `with parameter_init_skipped():`
    """Within the block, this thread's ``torch.nn.init`` calls on parameters do nothing."""

    def __enter__(self) -> None:
        me = threading.get_ident()
        with _lock:
            if not _active:
                _install()
            _active[me] = _active.get(me, 0) + 1

    def __exit__(self, *exc) -> None:
        me = threading.get_ident()
        with _lock:
            _active[me] -= 1
            if not _active[me]:
                del _active[me]
            if not _active:
                _uninstall()
