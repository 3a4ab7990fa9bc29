"""The hooks a dpzoo plugin may implement.

Each hook collects one kind of component. dpzoo calls it once per plugin with
a ``register`` callback bound to that plugin, so every entry knows where it
came from::

    import dpzoo

    @dpzoo.hookimpl
    def dpzoo_register_models(register):
        register("mlp", "mypkg.models:MLP", summary="A multilayer perceptron")

``register(name, target, **info)`` takes the component's short name, the
component itself or a lazy ``"module:attr"`` string (so that listing the
registry imports no model code), and optional metadata such as ``summary``.
"""

import pluggy

hookspec = pluggy.HookspecMarker("dpzoo")
hookimpl = pluggy.HookimplMarker("dpzoo")


@hookspec
def dpzoo_register_models(register):
    """Register model classes: ``nn.Module`` subclasses with a pydantic ``Config``."""


@hookspec
def dpzoo_register_losses(register):
    """Register losses: built as ``Loss(config)``, called as ``loss(output, batch)``."""


@hookspec
def dpzoo_register_optimisers(register):
    """Register optimiser factories: ``factory(params, config) -> torch.optim.Optimizer``."""


@hookspec
def dpzoo_register_schedulers(register):
    """Register learning-rate schedule factories: ``factory(optimizer, config, total_steps)``."""


@hookspec
def dpzoo_register_relaxations(register):
    """Register relaxations: objects with ``hard(x)``, ``soft(x, tau)`` and ``straight_through(x, tau)``."""


@hookspec
def dpzoo_register_datasets(register):
    """Register datasets: built as ``Dataset(config)``; ``load()`` returns a ``datasets.DatasetDict``."""


@hookspec
def dpzoo_register_metrics(register):
    """Register metrics: ``metric(output, batch)`` returns per-example values, averaged over an epoch."""


@hookspec
def dpzoo_register_pretrained(register):
    """Register pretrained weights: ``register("arch.tag", "https://...", sha256=..., size=...)``."""


@hookspec
def dpzoo_register_commands(subparsers):
    """Add ``dpzoo`` sub-commands: ``p = subparsers.add_parser("sample", help=...)``, then
    ``p.set_defaults(handler=fn)`` where ``fn(args) -> int`` is the exit code.

    A plugin whose hook raises (a clashing command name, say) is reported as
    broken and its half-added commands are removed; the others still work.
    """
