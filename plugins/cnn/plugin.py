"""Registers the convolutional networks. Imports nothing heavy: models load on first use."""

import dpzoo


@dpzoo.hookimpl
def dpzoo_register_models(register):
    register(
        "cnn",
        "dpzoo.plugins.cnn.lenet:LeNet",
        summary="LeNet-style CNN: conv-pool stages then fully connected layers (ch. 11)",
    )
    register(
        "allconv",
        "dpzoo.plugins.cnn.allconv:AllConvNet",
        summary="All-convolutional network: strided convolutions instead of pooling, global average pooling (ch. 11)",
    )
    register(
        "resnet",
        "dpzoo.plugins.cnn.resnet:ResNet",
        summary="Small ResNet of pre-activation residual blocks; shortcut=false is the plain network (ch. 7, 11)",
    )
