"""Registers the built-in data sets. Imports nothing heavy: each loads on first use."""

import dpzoo

HERE = "dpzoo.plugins.data"


@dpzoo.hookimpl
def dpzoo_register_datasets(register):
    register(
        "digits",
        f"{HERE}.digits:Digits",
        summary="scikit-learn's 8x8 digits, 1x8x8 in [0, 1]; fixed 1257/180/360 splits",
    )
    register(
        "mnist",
        f"{HERE}.mnist:MNIST",
        summary="MNIST 1x28x28 digits from IDX files or the hub; 55000/5000/10000 splits",
    )
    register(
        "shakespeare",
        f"{HERE}.shakespeare:TinyShakespeare",
        summary="tiny-shakespeare characters, 90/5/5 in order, as a stream",
    )
    register(
        "text",
        f"{HERE}.text:LocalText",
        summary="Any local UTF-8 text file or folder (data.path), split in order, as a stream",
    )
    register(
        "pysrc", f"{HERE}.pysrc:PySrc", summary="The Python standard library's .py files, split by file, as a stream"
    )


@dpzoo.hookimpl
def dpzoo_register_commands(subparsers):
    from .command import add  # argparse only: the command's work imports on use

    add(subparsers)
