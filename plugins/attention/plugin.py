"""Registers chapter 15's attention models. Imports nothing heavy: each loads on first use.

Sampling (``dpzoo sample gpt.shakespeare``) and bits per character are the
recurrent topic's (``plugins/rnn``): a ``gpt`` has the same ``step`` and
``vocabulary`` as its character models, so the one command serves both.
"""

import dpzoo

HERE = "dpzoo.plugins.attention"


@dpzoo.hookimpl
def dpzoo_register_models(register):
    register(
        "gpt",
        f"{HERE}.gpt:GPT",
        summary="Decoder-only transformer character language model, causal self-attention (ch. 15)",
    )
