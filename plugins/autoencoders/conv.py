"""The convolutional autoencoder (chapter 13; convolutions, chapter 11).

The encoder's stride-2 convolutions halve the image at each stage (local
structure, shared weights) and an affine map gives the code; the decoder
maps the code back to the last feature map and undoes each stage with a
transposed convolution of stride 2 (see ``networks.py`` for the sizes).
"""

from __future__ import annotations

from pydantic import Field

import dpzoo

from .base import Autoencoder, AutoencoderConfig
from .networks import ConvDecoder, ConvEncoder


class ConvAutoencoderConfig(AutoencoderConfig):
    channels: list[int] = Field(
        [16, 32], min_length=1, description="Channels of each stride-2 stage; the decoder mirrors them"
    )


class ConvAutoencoder(Autoencoder):
    """Stride-2 convolutions to an affine code; transposed convolutions back."""

    Config = ConvAutoencoderConfig
    registered_name = "conv_ae"

    def __init__(self, config=None, **overrides):
        super().__init__(config, **overrides)
        if len(self.shape) != 3:
            raise dpzoo.ConfigError(
                f"model 'conv_ae' needs images [C, H, W], got input_shape {self.config.input_shape}"
            )
        c = self.config
        self.encoder = ConvEncoder(self.shape, c.channels, c.code)
        self.decoder = ConvDecoder(c.code, c.channels, self.shape)
