"""Registers the recurrent networks of chapter 12. Imports nothing heavy: each loads on first use."""

import dpzoo

HERE = "dpzoo.plugins.rnn"


@dpzoo.hookimpl
def dpzoo_register_models(register):
    register("elman", f"{HERE}.language_model:Elman", summary="Elman (vanilla) RNN character language model (ch. 12)")
    register("lstm", f"{HERE}.language_model:LSTM", summary="LSTM character language model (ch. 12)")
    register("gru", f"{HERE}.language_model:GRU", summary="GRU character language model (ch. 12)")


@dpzoo.hookimpl
def dpzoo_register_metrics(register):
    register(
        "bits_per_char",
        f"{HERE}.bits:BitsPerCharacter",
        summary="Cross-entropy in bits per character over a whole split",
    )


@dpzoo.hookimpl
def dpzoo_register_commands(subparsers):
    from .command import add  # argparse only: the model and torch load when the command runs

    add(subparsers)
