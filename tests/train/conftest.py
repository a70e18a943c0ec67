"""Fixtures of the trainer tests (helpers they import live in genzoo_testing.training)."""

from __future__ import annotations

import pytest
import train_test_models  # beside this file, which pytest puts on sys.path (ddp_worker.py imports it the same way)


@pytest.fixture(autouse=True)
def test_models():
    """The tiny test models, registered for the duration of each test only."""
    train_test_models.register()
    yield
    train_test_models.unregister()
