"""What `genzoo models` prints, readable without importing torch (which takes seconds).

Outside genzoo.models on purpose: importing that package registers (so imports) every model.

One entry per built-in model: its registered name, the first line of its docstring and its
declared capabilities. tests/test_lazy_cli.py checks every entry against the real
registry, so the listing cannot drift from the models.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CatalogEntry:
    """A registered model as `genzoo models` shows it."""

    summary: str
    capabilities: tuple[str, ...]


BUILT_IN_MODELS: dict[str, CatalogEntry] = {
    "ae": CatalogEntry(
        "Deterministic autoencoder with L2 (or BCE) reconstruction loss; samples from a fitted latent Gaussian.",
        ("encoder", "latent_decoder")),
    "conditional-pixelcnn": CatalogEntry(
        "Gated PixelCNN over the output image conditioned on a map of the input (Dahl et al. 2017); exact log p(t | c).",
        ("exact_likelihood", "image_to_image")),
    "dcgan": CatalogEntry(
        "Deep convolutional GAN (Radford et al. 2015) trained by Algorithm 1 of Goodfellow et al. 2014.",
        ("latent_decoder",)),
    "gan": CatalogEntry(
        "MLP generator and discriminator trained by Algorithm 1 of Goodfellow et al. 2014.",
        ("latent_decoder",)),
    "gated-pixelcnn": CatalogEntry(
        "Gated PixelCNN with vertical and horizontal stacks, skip connections, optional class conditioning.",
        ("exact_likelihood", "label_conditional")),
    "pix2pix": CatalogEntry(
        "Conditional GAN of Isola et al. 2017: U-Net generator, PatchGAN discriminator, L1 + adversarial loss.",
        ("image_to_image",)),
    "pixelcnn": CatalogEntry(
        "Masked-convolution PixelCNN with residual blocks; exact log-likelihood.",
        ("exact_likelihood",)),
    "pixelrnn-diag": CatalogEntry(
        "PixelRNN with Diagonal BiLSTM layers (receptive field: every earlier pixel).",
        ("exact_likelihood",)),
    "pixelrnn-row": CatalogEntry(
        "PixelRNN with Row LSTM layers (triangular receptive field above each pixel).",
        ("exact_likelihood",)),
    "regress": CatalogEntry(
        "U-Net regression from the input to the output image (L1 or L2 loss); one deterministic output per input.",
        ("image_to_image",)),
    "vae": CatalogEntry(
        "Gaussian-latent VAE with Bernoulli / discretized-logistic / Gaussian decoder, beta and KL warm-up.",
        ("likelihood_bound", "encoder", "latent_decoder", "label_conditional")),
}


def catalog_lines() -> list[str]:
    """`name  summary  [capabilities]`, one line per built-in model, sorted by name."""
    lines, width = [], max(map(len, BUILT_IN_MODELS))
    for name in sorted(BUILT_IN_MODELS):
        entry = BUILT_IN_MODELS[name]
        lines.append(f"{name:<{width}} {entry.summary}  [{', '.join(entry.capabilities) or 'sampling only'}]")
    return lines
