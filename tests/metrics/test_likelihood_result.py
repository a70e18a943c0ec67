"""The likelihood section reads back exactly what `genzoo eval` wrote, for every kind of model."""

from __future__ import annotations

import pytest

from genzoo.metrics.evaluate import likelihood_line
from genzoo.metrics.likelihood_result import Likelihood, NllEstimate

EXACT = {"available": True, "kind": "exact", "num_test_images": 3, "split": "test", "dims": 784,
         "nll_nats": 90.5, "nll_nats_std_error": 1.5, "bits_per_dim": 0.1665}
BOUND = {"available": True, "kind": "bound", "num_test_images": 1, "split": "test", "dims": 784, "bound": "ELBO <= IWAE(k) <= log p(x)",
         "nll_elbo_nats": 250.0, "nll_elbo_nats_std_error": None, "bits_per_dim_elbo": 0.46,
         "nll_iwae_nats": None, "nll_iwae_nats_std_error": None, "bits_per_dim_iwae": None, "iwae_k": 100}
NONE = {"available": False, "reason": "model gan has no likelihood (capabilities: latent_decoder)"}


@pytest.mark.parametrize("section", [EXACT, BOUND, NONE])
def test_the_json_round_trips(section):
    assert Likelihood.from_dict(section).to_dict() == section


def test_the_headline_is_the_tightest_figure_and_null_reads_as_n_a():
    exact, bound = Likelihood.from_dict(EXACT), Likelihood.from_dict(BOUND)
    assert exact.headline == NllEstimate(90.5, 1.5, 0.1665) and exact.elbo is None
    assert bound.headline is bound.iwae and bound.elbo.nats == 250.0 and bound.iwae_k == 100
    assert likelihood_line(exact) == "NLL 90.50 nats = 0.1665 bits/dim (exact, N=3 test images)"
    assert likelihood_line(bound).startswith("NLL <= n/a nats = n/a bits/dim (IWAE k=100), ELBO bound 250.00 nats")
    assert likelihood_line(Likelihood.from_dict(NONE)) == f"likelihood: {NONE['reason']}"
    assert Likelihood.from_dict(None) is None and Likelihood.from_dict({}) is None
