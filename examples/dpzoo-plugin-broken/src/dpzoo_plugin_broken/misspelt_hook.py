"""A plugin that misspells its hook: ``dpzoo_register_model`` lacks the final "s".

dpzoo should list it as broken with a hint naming ``dpzoo_register_models``,
rather than loading it and silently registering nothing.
"""

import dpzoo


@dpzoo.hookimpl
def dpzoo_register_model(register):
    register("never_registered", "dpzoo_plugin_broken.misspelt_hook:NeverRegistered")
