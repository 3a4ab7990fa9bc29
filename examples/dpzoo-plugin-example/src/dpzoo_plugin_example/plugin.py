"""Registers this package's components with dpzoo.

Keep this module light: it is imported whenever anyone lists dpzoo's
components, so it imports nothing but dpzoo and names each component by a lazy
``"module:attr"`` string, imported only when the component is built.
"""

import dpzoo


@dpzoo.hookimpl
def dpzoo_register_models(register):
    register(
        "tiny_mlp",
        "dpzoo_plugin_example.model:TinyMLP",
        summary="One-hidden-layer MLP classifier for small tabular inputs (example plugin)",
    )
    register(
        "tiny_gan",
        "dpzoo_plugin_example.gan:TinyGAN",
        summary="A GAN on points in the plane, two optimisers in manual mode (example plugin)",
    )


@dpzoo.hookimpl
def dpzoo_register_datasets(register):
    register(
        "two_moons",
        "dpzoo_plugin_example.data:TwoMoons",
        summary="Two interleaving half circles in the plane, 2 classes (example plugin)",
    )
