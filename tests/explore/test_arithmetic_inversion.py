"""Generator inversion (genzoo.explore.inversion): recovering the image of a known z."""

from __future__ import annotations

import pytest
import torch

from genzoo.data.format import DataFormat
from genzoo.explore.inversion import invert_generator
from genzoo.models import build_model_from_format

FORMAT = DataFormat(image_shape=(1, 16, 16), value_range=(-1.0, 1.0))


def tiny(name: str, **options):
    torch.manual_seed(0)
    base = (
        {"latent_dim": 6, "generator_hidden": [32], "discriminator_hidden": [8], "maxout_pieces": 2}
        if name == "gan"
        else {"latent_dim": 6, "generator_channels": 8, "discriminator_channels": 4}
    )
    return build_model_from_format(name, FORMAT, {**base, **options})


@pytest.mark.parametrize("name, prior", [("dcgan", "uniform"), ("gan", "normal")])
def test_inversion_recovers_a_known_latents_image_better_than_random(name, prior):
    model = tiny(name, prior=prior).train()
    # move BN running statistics off their initial values, so eval mode matters
    model(torch.rand(8, *FORMAT.image_shape) * 2 - 1, phase="discriminator")
    z_true = model.sample_latent(5, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        targets = model.decode(z_true)  # (5, 1, 16, 16)
        random = model.decode(model.sample_latent(200, generator=torch.Generator().manual_seed(2)))  # (200, 1, 16, 16)
    random_error = (random[None] - targets[:, None]).pow(2).flatten(2).mean(2).mean(1)  # (5,) mean over random z
    buffers = {k: v.clone() for k, v in model.state_dict().items() if "running" in k}
    result = invert_generator(model, targets, steps=150, lr=0.05, restarts=3, generator=torch.Generator().manual_seed(3))
    assert result.latents.shape == (5, 6) and result.reconstructions.shape == targets.shape
    assert (result.errors < 0.2 * random_error).all(), (result.errors, random_error)
    assert torch.allclose(result.errors, (model.decode(result.latents) - targets).pow(2).flatten(1).mean(1), atol=1e-5)
    assert model.training, "inversion must restore the model's mode"
    for key, value in buffers.items():
        assert torch.equal(value, model.state_dict()[key]), f"inversion changed {key}"
    assert all(p.grad is None for p in model.parameters()), "inversion must not leave parameter gradients"
    if prior == "uniform":
        assert result.latents.abs().max() <= 1.0


def test_batching_does_not_change_the_answer():
    """Rows are optimised independently (Adam is elementwise), so chunking only changes the batch size."""
    model = tiny("dcgan").eval()  # uniform prior: the same starts whether drawn at once or chunk by chunk
    with torch.no_grad():
        targets = model.decode(model.sample_latent(4, generator=torch.Generator().manual_seed(5)))
    whole = invert_generator(model, targets, steps=30, restarts=3, generator=torch.Generator().manual_seed(0))
    chunked = invert_generator(model, targets, steps=30, restarts=3, batch_size=3, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(chunked.latents, whole.latents, atol=1e-4)
    assert torch.allclose(chunked.objectives, whole.objectives, atol=1e-5)


def test_inversion_needs_a_decoder_and_the_right_shape():
    model = tiny("gan")
    with pytest.raises(ValueError, match="built for images of shape"):
        invert_generator(model, torch.zeros(2, 1, 8, 8))
    with pytest.raises(ValueError, match="steps and restarts"):
        invert_generator(model, torch.zeros(2, 1, 16, 16), restarts=0)
