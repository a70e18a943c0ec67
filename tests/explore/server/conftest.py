"""Tiny trained runs for the explore server's tests and the app over them (helpers: genzoo_testing.explore_server).

The runs train for a few steps on 64 `shapes` images (and toy 2-D points): what is tested is
the server's plumbing and the properties of its answers, not the models' quality.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from genzoo.train import train
from genzoo.runs.config import DataConfig, RunConfig, TrainConfig
from genzoo_testing.explore_server import TestClient
from genzoo_testing.training import QUIET, make_config

RUN_SPECS = {
    "vae": ("vae", {"latent_dim": 2, "channels": 4, "iwae_samples": 0}, None, 40),
    "dcgan": ("dcgan", {"latent_dim": 20, "generator_channels": 8, "discriminator_channels": 8}, None, 4),
    "pixelcnn": ("pixelcnn", {"hidden": 8, "residual_blocks": 1, "output_hidden": 8}, ("binarize-static:0.5",), 4),
}
TOY_GAN = {"latent_dim": 2, "generator_hidden": [16], "discriminator_hidden": [16], "discriminator_activation": "leaky-relu",
           "dropout": 0.0, "output": "linear", "g_loss": "minimax", "d_steps": 2}


def toy_config(steps: int = 4) -> RunConfig:
    return RunConfig(model="gan", model_options=dict(TOY_GAN),
                     data=DataConfig(name="toy2d", preprocess=("dequantize", "scale-symmetric"), options={"n_train": 512, "n_test": 256}),
                     train=TrainConfig(**{**QUIET, "steps": steps, "batch_size": 64}))


@pytest.fixture(scope="session")
def explore_runs(tmp_path_factory) -> dict[str, Path]:
    """{"vae": 2-d latent, "dcgan": 20-d latent, "pixelcnn": binarized, "toy": gan on the ring}: run directories."""
    root = tmp_path_factory.mktemp("explore-runs")
    runs = {}
    for name, (model, options, preprocess, steps) in RUN_SPECS.items():
        runs[name] = root / name
        train(make_config(model, options, preprocess=preprocess, steps=steps, lr=3e-3), runs[name])
    runs["toy"] = root / "toy"
    train(toy_config(), runs["toy"])
    (root / "report").mkdir()  # like the demo's report/: not a run, skipped
    return runs


@pytest.fixture(scope="module")
def client(explore_runs):
    from genzoo.explore.server.app import create_app

    order = ["vae", "dcgan", "pixelcnn", "toy"]
    app = create_app([explore_runs[name] for name in order], log=lambda line: None)
    with TestClient(app) as test_client:
        test_client.runs = {name: index for index, name in enumerate(order)}
        yield test_client
