"""What a GPT logs to TensorBoard: samples as text, and the attention maps of one sample as images.

The samples are logged by the recurrent topic's ``log_samples`` (temperatures
0.5, 1.0 and 1.5, each from its own seeded generator, so training's random
stream is untouched). The maps
are the weights A of every head of every block while the model reads the
first ``context`` characters of the temperature-1.0 sample, the one logged (a
second draw cost the zoo's GPT 1.5 s on one CPU thread): one image per block,
its heads side by side, query t down, key s across (the causal mask leaves the
upper triangle black). Each map is scaled so its largest weight is white: a
row's weights sum to one, so late rows would be near black unscaled.
"""

from __future__ import annotations

import torch

from dpzoo.media import image_grid, upscale

MAP_PIXELS = 256  # a map is enlarged to about this many pixels a side


def map_images(maps: list[torch.Tensor]) -> list[torch.Tensor]:
    """One [1, H', W'] image in [0, 1] per block from its weights [1, H, T, T]."""
    images = []
    for weights in maps:
        w = weights[0].float().cpu()  # [H, T, T]
        w = w / w.amax(dim=(-2, -1), keepdim=True).clamp_min(1e-12)
        grid = image_grid(w[:, None], nrow=len(w), padding=1, pad_value=1.0)
        images.append(upscale(grid, max(1, MAP_PIXELS // w.shape[-1])))
    return images


def log_attention_maps(model, ctx, text: str) -> None:
    """The maps of every block while the model reads the first ``context`` characters of ``text``."""
    ids = torch.from_numpy(model.vocabulary.encode(text[: model.config.context]))[None]
    device = next(model.parameters()).device
    for layer, image in enumerate(map_images(model.attention_maps(ids.to(device)))):
        ctx.log_image(f"attention/block_{layer}", image)
    ctx.log_text("attention/text", "    " + text[: model.config.context].replace("\n", "\n    "))
