"""A plugin whose import fails: it needs a package that is not installed.

dpzoo should list it as broken ("import failed: ModuleNotFoundError ...") and
carry on with every other plugin.
"""

import dpzoo_plugin_broken_missing_dependency  # noqa: F401 - deliberately not installable

import dpzoo


@dpzoo.hookimpl
def dpzoo_register_models(register):
    register("unreachable", "dpzoo_plugin_broken.needs_missing_dependency:Unreachable")
