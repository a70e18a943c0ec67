"""What the autoregressive models (PixelCNN, Gated PixelCNN, PixelRNN) share.

p(x) = prod_i p(x_i | x_<i) over sub-pixels in raster order, channels R, G, B within a
pixel (van den Oord et al. 2016, eq. 1-2). A model supplies
  - `network(x, labels)`: the parameter map (B, P, H, W) of every sub-pixel's conditional,
    computed in one causal pass (teacher forcing),
  - `stepper(canvas, labels)`: an incremental version of the same function for sampling,
    computing the parameters of one pixel at a time from cached activations (Ramachandran
    et al. 2017, "Fast Generation for Convolutional Autoregressive Models").
This module turns those into the genzoo contract: exact `log_prob`, per-example `loss`, and
`sample` / `complete` with one inverse-CDF uniform per sub-pixel drawn up front, so that
the fast and the naive sampler (one whole-network pass per step) draw the same images
from the same generator.

Inputs are float batches in the DataFormat's value space; the network sees them scaled to
[-1, 1] and the distributions read their level indices (round to the nearest level).
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Callable
from typing import Literal, Protocol

import torch

from genzoo.data.format import DataFormat
from genzoo.models.base import Capabilities, GenerativeModel
from genzoo.nn.distributions import (
    OUTPUT_NAMES,
    OutputName,
    build_output_distribution,
    levels_to_scaled,
    nats_to_bits_per_dim,
    sample_level,
    scaled_to_levels,
)
from genzoo.nn.masked import MaskedOutputHead

SamplerName = Literal["fast", "naive"]
SAMPLER_NAMES: tuple[str, ...] = ("fast", "naive")


@dataclass(frozen=True)
class AutoregressiveConfig:
    """Options every autoregressive model has (its own config subclasses this).

    output: distribution of each sub-pixel; auto = bernoulli for 2 levels, else categorical.
    mixture_components: K of output=logistic_mixture (PixelCNN++ uses 10).
    sampler: fast (incremental, cached activations) or naive (one whole-network pass per step).
    """

    output: OutputName = "auto"
    mixture_components: int = 10
    sampler: SamplerName = "fast"

    def __post_init__(self) -> None:
        if self.output not in OUTPUT_NAMES:
            raise ValueError(f"bad output {self.output!r}: choose one of {', '.join(OUTPUT_NAMES)}")
        if self.sampler not in SAMPLER_NAMES:
            raise ValueError(f"bad sampler {self.sampler!r}: choose one of {', '.join(SAMPLER_NAMES)}")
        if self.mixture_components < 1:
            raise ValueError(f"mixture_components must be >= 1, got {self.mixture_components}")

    def check_positive(self, *names: str) -> None:
        for name in names:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")


class Stepper(Protocol):
    """Computes the network's parameters one pixel at a time, in raster order.

    The sampler writes sampled sub-pixels into the canvas (B, C, H, W, scaled to [-1, 1])
    that the stepper was built on. It calls `begin_row(r)` once row r-1 is complete, then
    `params_at(r, c)` for each pixel, possibly again after each channel of the pixel is
    written. `params_at` must equal network(canvas)[:, :, r, c] and may cache activations of
    pixel (r, c) only (calling it again overwrites them).
    """

    def begin_row(self, row: int) -> None: ...

    def params_at(self, row: int, col: int) -> torch.Tensor: ...


class NaiveStepper:
    """One whole-network pass per call: the reference the fast steppers are tested against."""

    def __init__(self, model: "AutoregressiveModel", canvas: torch.Tensor, labels: torch.Tensor | None) -> None:
        self.model, self.canvas, self.labels = model, canvas, labels

    def begin_row(self, row: int) -> None:
        pass

    def params_at(self, row: int, col: int) -> torch.Tensor:
        return self.model.network(self.canvas, self.labels)[:, :, row, col]  # (B, P)


class AutoregressiveModel(GenerativeModel):
    """Base of the PixelCNN / PixelRNN family: exact likelihood, sequential sampling."""

    capabilities = Capabilities(exact_likelihood=True)
    selection_metric = "nll"

    def __init__(self, config: AutoregressiveConfig, data_format: DataFormat) -> None:
        super().__init__(config, data_format)
        channels = data_format.channels
        self.distribution = build_output_distribution(config.output, channels, data_format.levels, config.mixture_components)
        # C groups for sub-pixel masking (channels predicted in turn), 1 for the mixture (pixels jointly).
        self.groups = self.distribution.channel_groups

    # ---- subclasses ---------------------------------------------------------------------
    def network(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Scaled images (B, C, H, W) in [-1, 1] -> distribution parameters (B, P, H, W), causal."""
        raise NotImplementedError

    def stepper(self, canvas: torch.Tensor, labels: torch.Tensor | None = None) -> Stepper:
        """The fast incremental version of `network` (see `Stepper`)."""
        raise NotImplementedError

    def output_head(self, in_channels: int, hidden: int) -> MaskedOutputHead:
        """ReLU, 1x1, ReLU, 1x1 (mask B) to this model's distribution parameters."""
        distribution = self.distribution
        return MaskedOutputHead(
            in_channels, hidden, distribution.num_params, groups=self.groups, out_groups=distribution.param_groups()
        )

    def check_widths(self, **widths: int) -> None:
        """Every masked feature map is split into `groups` channel groups: each needs >= groups channels."""
        for name, width in widths.items():
            if width < self.groups:
                raise ValueError(f"{name}={width} is too small for {self.groups} channel groups: use at least {self.groups}")

    # ---- values -------------------------------------------------------------------------
    def to_scaled(self, x: torch.Tensor) -> torch.Tensor:
        """Value space -> [-1, 1] (differentiable, so causality can be tested by gradients)."""
        return self.data_format.to_scaled(x)

    def from_scaled(self, scaled: torch.Tensor) -> torch.Tensor:
        return self.data_format.from_scaled(scaled)

    def _labels(self, labels: torch.Tensor | None, batch: int, *, sampling: bool) -> torch.Tensor | None:
        """Class labels (B,) the network is conditioned on; None for unconditional models (labels ignored)."""
        return None

    # ---- likelihood ---------------------------------------------------------------------
    def nll_per_subpixel(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """-log p(x_i | x_<i) in nats for every sub-pixel: (B, C, H, W)."""
        self.check_input(x)
        scaled = self.to_scaled(x)
        scaled = levels_to_scaled(scaled_to_levels(scaled, self.data_format.levels).to(x.dtype), self.data_format.levels)
        return self.distribution.nll(self.network(scaled, self._labels(y, x.shape[0], sampling=False)), scaled)

    def log_prob(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """log p(x) = sum_i log p(x_i | x_<i), exact, in nats summed over sub-pixels: (B,)."""
        return -self.nll_per_subpixel(x, y).sum((1, 2, 3))

    def conditional_log_probs(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """log p(x_i = k | x_<i) for every sub-pixel and level: (B, C, H, W, L); differentiable in x."""
        self.check_input(x)
        scaled = self.to_scaled(x)
        return self.distribution.log_probs(self.network(scaled, self._labels(y, x.shape[0], sampling=False)), scaled)

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None, phase: str = "model") -> dict[str, torch.Tensor]:
        """Negative log-likelihood per image in nats, -sum_i log p(x_i | x_<i): (B,)."""
        nll = self.nll_per_subpixel(x, y).sum((1, 2, 3))
        return {"loss": nll, "nll": nll.detach(), "bits_per_dim": nats_to_bits_per_dim(nll.detach(), self.data_format.dims)}

    # ---- generation ---------------------------------------------------------------------
    @torch.no_grad()
    def sample(
        self,
        n: int,
        *,
        labels: torch.Tensor | None = None,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
        method: SamplerName | None = None,
        on_row: Callable[[], None] | None = None,
    ) -> torch.Tensor:
        """n images (n, C, H, W) drawn sub-pixel by sub-pixel; method: fast / naive (default: config.sampler).

        on_row, if given, is called after each finished image row (a progress bar's update).
        """
        shape = (n, *self.data_format.image_shape)
        blank = torch.zeros(shape, device=self.device, dtype=self._dtype())
        keep = torch.zeros(shape, device=self.device, dtype=torch.bool)
        return self.complete(blank, keep, labels=labels, temperature=temperature, generator=generator, method=method, on_row=on_row)

    @torch.no_grad()
    def complete(
        self,
        images: torch.Tensor,
        keep: torch.Tensor,
        *,
        labels: torch.Tensor | None = None,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
        method: SamplerName | None = None,
        on_row: Callable[[], None] | None = None,
    ) -> torch.Tensor:
        """Sample every sub-pixel where keep (B, C, H, W) is False, given the kept ones: (B, C, H, W).

        Kept sub-pixels are copied from `images`; the others are drawn from p(x_i | x_<i), so
        they see the kept sub-pixels before them (an autoregressive model cannot look ahead).
        One uniform per sub-pixel is drawn up front, kept ones included.
        """
        self.check_input(images)
        method = method or self.config.sampler
        if method not in SAMPLER_NAMES:
            raise ValueError(f"bad sampler {method!r}: choose one of {', '.join(SAMPLER_NAMES)}")
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        batch, channels, height, width = images.shape
        keep = keep.to(self.device).expand(batch, channels, height, width)
        num_levels = self.data_format.levels
        dtype = self._dtype()
        uniforms = torch.rand(batch, channels, height, width, generator=generator, device=self.device, dtype=dtype)
        given = scaled_to_levels(self.to_scaled(images.to(self.device, dtype)), num_levels)  # (B, C, H, W) level indices
        given = levels_to_scaled(given.to(dtype), num_levels)
        canvas = torch.where(keep, given, torch.zeros_like(given))  # (B, C, H, W) in [-1, 1], filled as we go
        labels = self._labels(labels, batch, sampling=True)
        stepper = self.stepper(canvas, labels) if method == "fast" else NaiveStepper(self, canvas, labels)
        pixel_kept = keep.all(dim=1).all(dim=0).tolist()  # (H, W): every sub-pixel of the pixel given, in every image
        for row in range(height):
            stepper.begin_row(row)
            for col in range(width):
                all_kept = pixel_kept[row][col]
                if all_kept and method == "naive":
                    continue  # nothing to draw, and the naive stepper caches nothing
                params = None
                for channel in range(channels):
                    if params is None or self.groups > 1:  # with channel groups, channel c's parameters see c-1
                        params = stepper.params_at(row, col)  # (B, P)
                    if all_kept:
                        break  # the fast stepper has cached this pixel's activations
                    log_probs = self.distribution.channel_log_probs(params, channel, canvas[:, :channel, row, col])
                    level = sample_level(log_probs, uniforms[:, channel, row, col], temperature)  # (B,)
                    drawn = levels_to_scaled(level.to(dtype), num_levels)
                    canvas[:, channel, row, col] = torch.where(keep[:, channel, row, col], canvas[:, channel, row, col], drawn)
            if on_row is not None:
                on_row()
        return self.from_scaled(canvas)

    def _dtype(self) -> torch.dtype:
        for tensor in self.parameters():
            return tensor.dtype
        return torch.float32
