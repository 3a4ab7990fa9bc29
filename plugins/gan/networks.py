"""The DCGAN generator and discriminator (chapter 14.3, "Architecture Guidelines for Stable DCGAN").

The generator x = g(z) maps a latent z in R^n, z ~ N(0, I), to an image; the
discriminator y = d(x) maps an image to the logit of "x is real". Both follow
the book's guidelines:

* no pooling: the discriminator halves the image with stride-2 convolutions,
  the generator doubles it with stride-2 (fractional-strided) transposed
  convolutions, so each network learns its own resampling;
* batch norm in both (not on the generator's output nor on the
  discriminator's input, as in Radford et al. 2016: normalising those layers
  made samples oscillate in their experiments);
* no fully connected hidden layer: z enters as a 1x1 image that a transposed
  convolution with a base x base kernel projects to a base x base map, and
  the discriminator ends with a base x base convolution to a single logit;
  ``base_layers`` > 0 deepens both networks where the map is smallest (and a
  layer cheapest) with 3x3 stride-1 convolutions at the base resolution,
  each with its batch norm and activation;
* ReLU in the generator with tanh at its output, LeakyReLU (slope 0.2) in
  the discriminator;
* weights drawn from N(0, 0.02), batch-norm scales from N(1, 0.02).

Sizes follow the data: with ``stages`` stride-2 layers the image side must be
base * 2**stages, so 8x8 digits have a 2x2 base and 28x28 MNIST a 7x7 one.
The widths double towards the base: the generator runs
width * 2**(stages-1), ..., width, channels; the discriminator mirrors it.
"""

from __future__ import annotations

from torch import Tensor, nn

LEAKY_SLOPE = 0.2
INIT_STD = 0.02


class Generator(nn.Module):
    """x = tanh(...) in [-1, 1]^(C x H x W) from z of shape [N, latent_dim]."""

    def __init__(
        self,
        latent_dim: int,
        image_shape: tuple[int, int, int],
        width: int,
        stages: int,
        batch_norm: bool = True,
        base_layers: int = 0,
    ):
        super().__init__()
        channels, side, _ = image_shape
        base = side // 2**stages
        widths = [width * 2**i for i in reversed(range(stages))]  # e.g. [2w, w] for two stages
        layers: list[nn.Module] = [  # project z (a 1x1 image) to a base x base map
            nn.ConvTranspose2d(latent_dim, widths[0], base, bias=not batch_norm),
            norm(widths[0], batch_norm),
            nn.ReLU(),
        ]
        for _ in range(base_layers):
            layers += [same_size_conv(widths[0], batch_norm), norm(widths[0], batch_norm), nn.ReLU()]
        for c_in, c_out in zip(widths, widths[1:]):
            layers += [
                nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1, bias=not batch_norm),
                norm(c_out, batch_norm),
                nn.ReLU(),
            ]
        layers += [nn.ConvTranspose2d(widths[-1], channels, 4, stride=2, padding=1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z[:, :, None, None])


class Discriminator(nn.Module):
    """The logit d(x) of "x is real"; D(x) = sigmoid(d(x))."""

    def __init__(
        self, image_shape: tuple[int, int, int], width: int, stages: int, batch_norm: bool = True, base_layers: int = 0
    ):
        super().__init__()
        channels, side, _ = image_shape
        base = side // 2**stages
        widths = [width * 2**i for i in range(stages)]  # e.g. [w, 2w]
        layers: list[nn.Module] = [nn.Conv2d(channels, widths[0], 4, stride=2, padding=1), nn.LeakyReLU(LEAKY_SLOPE)]
        for c_in, c_out in zip(widths, widths[1:]):
            layers += [
                nn.Conv2d(c_in, c_out, 4, stride=2, padding=1, bias=not batch_norm),
                norm(c_out, batch_norm),
                nn.LeakyReLU(LEAKY_SLOPE),
            ]
        for _ in range(base_layers):
            layers += [same_size_conv(widths[-1], batch_norm), norm(widths[-1], batch_norm), nn.LeakyReLU(LEAKY_SLOPE)]
        layers += [nn.Conv2d(widths[-1], 1, base)]  # base x base -> 1x1: the logit
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).flatten()


def same_size_conv(channels: int, batch_norm: bool) -> nn.Conv2d:
    """A 3x3 stride-1 convolution that keeps the map's size and channels (a ``base_layers`` layer)."""
    return nn.Conv2d(channels, channels, 3, padding=1, bias=not batch_norm)


def norm(channels: int, batch_norm: bool) -> nn.Module:
    """Batch norm (which makes a bias before it redundant), or nothing for the ablation."""
    return nn.BatchNorm2d(channels) if batch_norm else nn.Identity()


def dcgan_init(module: nn.Module) -> None:
    """N(0, 0.02) for (transposed) convolution weights; BN scale N(1, 0.02), shift 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, INIT_STD)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, INIT_STD)
        nn.init.zeros_(module.bias)
