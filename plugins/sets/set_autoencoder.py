"""What the set-prediction models share: the data-given sizes, the input encoder h, media (chapter 16).

Both decoders predict a set of N = ``max_elements`` slots, each with d =
``element_dim`` coordinates and a presence m^_i in [0, 1], from an encoding
z = h(X) of the input. On the pixel-set task the input is the target set
itself (a set auto-encoder), as in DSPN's MNIST experiment.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

import dpzoo

from .encoder import EncoderConfig


class SetPredictionConfig(dpzoo.Config):
    max_elements: int | None = Field(
        None, ge=1, description="N, the slots of a predicted set; read from the data when unset"
    )
    element_dim: int | None = Field(
        None, ge=1, description="d, the features of an element ((x, y) points: 2); read from the data"
    )
    encoder: EncoderConfig = Field(EncoderConfig(), description="The set encoder h that reads the input set")
    media_examples: int = Field(8, ge=0, description="Validation examples drawn as predicted-vs-target scatter images")


class SetPredictor(dpzoo.Model):
    """Base: checks the sizes; subclasses return {"set": [B, N, d], "mask": [B, N], "input_mask": [B, M], ...}.

    ``input_mask`` is the mask the input set was read with, returned so that
    media can draw the input beside the prediction from one ``ctx.predict``.
    """

    default_loss: Any = "chamfer"
    default_metrics = ("chamfer", "hungarian")
    registered_name = "set predictor"

    def __init__(self, config: dpzoo.Config | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        c = self.config
        if c.max_elements is None or c.element_dim is None:
            raise dpzoo.ConfigError(
                f"model {self.registered_name!r} needs max_elements and element_dim: set them "
                "(max_elements=312, element_dim=2) or train with --data so they are read from the data"
            )

    def log_media(self, ctx) -> None:
        """Predicted (red) vs target (blue) sets of the first validation examples, as scatter images."""
        from .media import log_set_media

        log_set_media(self, ctx, self.config.media_examples)
