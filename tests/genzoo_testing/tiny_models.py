"""A CPU-sized configuration of every registered model, and batches on a format's level grid.

tests/models/test_contract.py checks every registered model on these cases (and fails until a
new model adds one); other tests reuse them.
"""

from __future__ import annotations

import torch

from genzoo.data.format import DataFormat

GRAY_8 = DataFormat(image_shape=(1, 8, 8), levels=256)
RGB_8 = DataFormat(image_shape=(3, 8, 8), levels=256)
BINARY_8 = DataFormat(image_shape=(1, 8, 8), levels=2)
LABELLED_BINARY_8 = DataFormat(image_shape=(1, 8, 8), levels=2, num_classes=3)
CONTINUOUS_8 = DataFormat(image_shape=(1, 8, 8), levels=None)
GRAY4_8 = DataFormat(image_shape=(1, 8, 8), levels=4)  # few levels: tiny autoregressive nets must halve their loss
RGB4_8 = DataFormat(image_shape=(3, 8, 8), levels=4)
# Paired tasks (genzoo.data.tasks): the batch is split into (condition, target) by the image-to-image models.
SUPERRES_GRAY_8 = DataFormat(image_shape=(1, 8, 8), levels=256, task="superres:2")
SUPERRES_GRAY4_8 = DataFormat(image_shape=(1, 8, 8), levels=4, task="superres:2")
COLORIZE_RGB_8 = DataFormat(image_shape=(3, 8, 8), levels=256, task="colorize")
COLORIZE_RGB4_8 = DataFormat(image_shape=(3, 8, 8), levels=4, task="colorize")
PAIRED_GRAY_8x16 = DataFormat(image_shape=(1, 8, 16), levels=256, value_range=(-1.0, 1.0), task="paired")
EDGES_GRAY_8 = DataFormat(image_shape=(1, 8, 8), levels=256, task="edges")

# model name -> list of (case id, options, data format): small enough for a CPU test.
TINY: dict[str, list[tuple[str, dict, DataFormat]]] = {
    "ae": [
        ("conv-gray", {"latent_dim": 4, "channels": 8}, GRAY_8),
        ("mlp-rgb", {"architecture": "mlp", "latent_dim": 4, "hidden": 32}, RGB_8),
        ("conv-bce-binary", {"latent_dim": 4, "channels": 8, "reconstruction": "bce"}, BINARY_8),
    ],
    "vae": [
        ("conv-bernoulli-binary", {"latent_dim": 4, "channels": 8, "iwae_samples": 4}, BINARY_8),
        ("mlp-logistic-rgb", {"architecture": "mlp", "latent_dim": 8, "hidden": 32, "iwae_samples": 4}, RGB_8),
        ("mlp-gaussian-fixed", {"architecture": "mlp", "latent_dim": 4, "hidden": 32, "gaussian_variance": "fixed"}, CONTINUOUS_8),
        ("mlp-conditional-warmup", {"architecture": "mlp", "latent_dim": 4, "hidden": 32, "conditional": True, "kl_warmup_steps": 10},
         LABELLED_BINARY_8),
    ],
    "pixelcnn": [
        ("binary-bernoulli", {"hidden": 8, "residual_blocks": 2, "output_hidden": 8}, BINARY_8),
        ("rgb-mixture", {"hidden": 12, "residual_blocks": 1, "output_hidden": 12, "output": "logistic_mixture", "mixture_components": 2}, RGB4_8),
    ],
    "gated-pixelcnn": [
        ("gray-categorical", {"hidden": 8, "layers": 2, "output_hidden": 8}, GRAY4_8),
        ("conditional-binary", {"hidden": 8, "layers": 2, "output_hidden": 8, "conditional": True}, LABELLED_BINARY_8),
    ],
    "pixelrnn-row": [
        ("rgb-categorical", {"hidden": 12, "layers": 1, "output_hidden": 12}, RGB4_8),
    ],
    "pixelrnn-diag": [
        ("binary", {"hidden": 8, "layers": 1, "output_hidden": 8}, BINARY_8),
    ],
    "gan": [
        ("maxout-rgb", {"latent_dim": 4, "generator_hidden": [16], "discriminator_hidden": [16, 8], "maxout_pieces": 2}, RGB_8),
        ("conditional-minimax", {"latent_dim": 4, "generator_hidden": [16, 16], "discriminator_hidden": [16],
                                 "discriminator_activation": "leaky-relu", "conditional": True, "g_loss": "minimax",
                                 "prior": "uniform", "d_steps": 2},
         DataFormat(image_shape=(1, 8, 8), value_range=(-1.0, 1.0), num_classes=3)),
    ],
    "dcgan": [
        ("gray-8px", {"latent_dim": 4, "generator_channels": 4, "discriminator_channels": 4}, GRAY_8),
        ("conditional-rgb-16px", {"latent_dim": 4, "generator_channels": 4, "discriminator_channels": 4, "conditional": True},
         DataFormat(image_shape=(3, 16, 16), value_range=(-1.0, 1.0), num_classes=4)),
    ],
    "regress": [
        ("superres-gray", {"width": 8}, SUPERRES_GRAY_8),
        ("colorize-rgb-l2", {"width": 8, "max_depth": 1, "loss": "l2"}, COLORIZE_RGB_8),
        ("edges-gray-dropout", {"width": 8, "dropout": 0.1}, EDGES_GRAY_8),
    ],
    "pix2pix": [
        ("superres-gray", {"width": 8, "discriminator_width": 8}, SUPERRES_GRAY_8),
        ("paired-deterministic-minimax", {"width": 8, "discriminator_width": 8, "test_dropout": False, "g_loss": "minimax", "d_steps": 2},
         PAIRED_GRAY_8x16),
    ],
    "conditional-pixelcnn": [
        ("superres-gray-categorical", {"hidden": 8, "layers": 2, "output_hidden": 8, "condition_features": 8, "condition_width": 8},
         SUPERRES_GRAY4_8),
        ("colorize-rgb-mixture", {"hidden": 12, "layers": 2, "output_hidden": 12, "condition_features": 8, "condition_width": 8,
                                  "output": "logistic_mixture", "mixture_components": 2}, COLORIZE_RGB4_8),
        ("paired-gray-256", {"hidden": 8, "layers": 2, "output_hidden": 8, "condition_features": 8, "condition_width": 8},
         PAIRED_GRAY_8x16),
    ],
}


def make_batch(data_format: DataFormat, batch: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Random images on the format's level grid (B, C, H, W) and labels (B,) when the format has classes."""
    generator = torch.Generator().manual_seed(seed)
    levels = data_format.levels or 256
    low, high = data_format.value_range
    integers = torch.randint(0, levels, (batch, *data_format.image_shape), generator=generator)
    x = low + (high - low) * integers.float() / (levels - 1)
    y = torch.randint(0, data_format.num_classes, (batch,), generator=generator) if data_format.num_classes else None
    return x, y


def fix_posterior_means(model, scales) -> None:
    """Set an mlp VAE's weights so its posterior is mu_u = scales[u] * silu(4 mean(x) - 2), log sigma^2 = 0.

    The first hidden unit reads the mean brightness (64 pixels of an 8x8 image); every other
    weight of the encoder's first layer and of the posterior head is zero.
    """
    import torch

    with torch.no_grad():
        encoder = model.encoder_body[1]  # Linear(64, hidden)
        encoder.weight.zero_()
        encoder.bias.zero_()
        encoder.weight[0] = 4.0 / 64
        encoder.bias[0] = -2.0
        model.to_posterior.weight.zero_()
        model.to_posterior.bias.zero_()
        model.to_posterior.weight[: len(scales), 0] = torch.as_tensor(scales, dtype=model.to_posterior.weight.dtype)
