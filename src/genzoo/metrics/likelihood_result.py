"""The likelihood section of an evaluation as a type: written by `evaluate_run`, read by the report and `genzoo eval`.

    exact           -log p(x) of an autoregressive model           JSON nll_nats, nll_nats_std_error, bits_per_dim
    elbo, iwae      the ELBO and IWAE(k) bounds of a VAE (k stated)  JSON nll_elbo_nats, ..., bits_per_dim_elbo; nll_iwae_*

`to_dict()` is the JSON of evaluation.json, `from_dict()` reads it back; the figures' JSON names
are spelled here and nowhere else. A model without a likelihood: available=False and the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from genzoo.metrics.section import MeasuredSection

ESTIMATE_PREFIXES = {"exact": "nll", "elbo": "nll_elbo", "iwae": "nll_iwae"}


@dataclass(frozen=True)
class NllEstimate:
    """One negative log-likelihood over the test images: nats per image (mean and standard error), and bits/dim."""

    nats: float | None  # None: stored as null (NaN or infinite)
    std_error: float | None  # None with a single image
    bits_per_dim: float | None

    def to_dict(self, prefix: str) -> dict[str, Any]:
        return {f"{prefix}_nats": self.nats, f"{prefix}_nats_std_error": self.std_error, _bits_key(prefix): self.bits_per_dim}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], prefix: str) -> "NllEstimate | None":
        if f"{prefix}_nats" not in values:
            return None
        return cls(values[f"{prefix}_nats"], values.get(f"{prefix}_nats_std_error"), values.get(_bits_key(prefix)))


def _bits_key(prefix: str) -> str:
    """nll -> bits_per_dim, nll_elbo -> bits_per_dim_elbo, nll_iwae -> bits_per_dim_iwae."""
    return "bits_per_dim" + prefix[len("nll"):]


def _estimate_keys() -> set[str]:
    return {key for prefix in ESTIMATE_PREFIXES.values() for key in (f"{prefix}_nats", f"{prefix}_nats_std_error", _bits_key(prefix))}


@dataclass(frozen=True)
class Likelihood(MeasuredSection):
    """The likelihood section: `exact` for an autoregressive model; `elbo` and `iwae` for a VAE."""

    available: bool
    reason: str | None = None  # why not, when unavailable
    kind: str | None = None  # "exact" or "bound"
    num_test_images: int | None = None
    exact: NllEstimate | None = None
    elbo: NllEstimate | None = None
    iwae: NllEstimate | None = None
    iwae_k: int | None = None
    details: dict[str, Any] = field(default_factory=dict)  # split, preprocess, dims, units and notes, as written

    @property
    def headline(self) -> NllEstimate | None:
        """The tightest figure: exact, else the IWAE bound."""
        return self.exact if self.kind == "exact" else self.iwae

    def _measured_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"available": True, "kind": self.kind, "num_test_images": self.num_test_images, **self.details}
        for name, prefix in ESTIMATE_PREFIXES.items():
            estimate = getattr(self, name)
            if estimate is not None:
                out.update(estimate.to_dict(prefix))
        if self.iwae_k is not None:
            out["iwae_k"] = self.iwae_k
        return out

    @classmethod
    def _from_measured(cls, values: Mapping[str, Any]) -> "Likelihood":
        estimates = {name: NllEstimate.from_dict(values, prefix) for name, prefix in ESTIMATE_PREFIXES.items()}
        known = {"available", "kind", "num_test_images", "iwae_k"} | _estimate_keys()
        details = {key: value for key, value in values.items() if key not in known}
        return cls(True, kind=values.get("kind"), num_test_images=values.get("num_test_images"), iwae_k=values.get("iwae_k"),
                   details=details, **estimates)
