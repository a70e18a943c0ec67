"""The sections of an evaluation (evaluation.json) as types: built by `evaluate_run`, read by the report and the tests.

    likelihood      Likelihood       genzoo.metrics.likelihood_result
    sample_quality  SampleQuality    FID / KID / precision-recall of the samples and of real images, recognised shares
    speed           Speed            sampling seconds per image, training images/s
    sharpness       Sharpness        variance of the Laplacian, samples over test images
    modes           Modes            toy2d: modes covered, the high-quality share
    translation     a dict of genzoo.metrics.translation.TranslationReport

Each type's `to_dict()` is the JSON `genzoo eval` writes and `from_dict()` reads it back (None
for a section the evaluation has not got), so a figure's JSON name is spelled once, here. A
section that could not be measured has available=False and its reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from genzoo.metrics.likelihood_result import Likelihood
from genzoo.metrics.section import MeasuredSection

FIGURE_NAMES = ("fid", "kid", "pr", "classifier_score")  # what QualityFigures may hold, in the JSON's order


def _extra(values: Mapping[str, Any], known: set[str]) -> dict[str, Any]:
    """The keys of `values` a type does not model: carried through as written (notes, provenance)."""
    return {key: value for key, value in values.items() if key not in known}


@dataclass(frozen=True)
class QualityFigures:
    """FID, KID, precision / recall and the classifier score of one image set against the test images: those measured."""

    measured: tuple[str, ...] = ()  # of FIGURE_NAMES
    fid: float | None = None  # None when measured: a NaN stored as null
    kid: dict[str, Any] | None = None  # mean, std_error, subsets, subset_size
    precision: float | None = None
    recall: float | None = None
    pr_k: int | None = None
    classifier_score: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if "fid" in self.measured:
            out["fid"] = self.fid
        if "kid" in self.measured:
            out["kid"] = self.kid
        if "pr" in self.measured:
            out.update(precision=self.precision, recall=self.recall, pr_k=self.pr_k)
        if "classifier_score" in self.measured:
            out["classifier_score"] = self.classifier_score
        return out

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "QualityFigures":
        present = {"fid": "fid", "kid": "kid", "pr": "precision", "classifier_score": "classifier_score"}
        measured = tuple(name for name in FIGURE_NAMES if present[name] in values)
        return cls(measured, values.get("fid"), values.get("kid"), values.get("precision"), values.get("recall"), values.get("pr_k"),
                   values.get("classifier_score"))


QUALITY_KEYS = {"fid", "kid", "precision", "recall", "pr_k", "classifier_score"}


@dataclass(frozen=True)
class Recognised:
    """Shares of images the feature classifier names with p(y|x) >= threshold: samples, test images, other real images."""

    threshold: float
    samples: float | None
    test_images: float | None
    other_real_images: float | None
    measure: str = ""

    @property
    def relative(self) -> float | None:
        """The samples' share over the test images' (1: as recognisable as real images); None without both."""
        return None if self.samples is None or not self.test_images else self.samples / self.test_images

    def to_dict(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "samples": self.samples, "test_images": self.test_images,
                "other_real_images": self.other_real_images, "measure": self.measure}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> "Recognised | None":
        if not values:
            return None
        return cls(values["threshold"], values.get("samples"), values.get("test_images"), values.get("other_real_images"),
                   values.get("measure", ""))


@dataclass(frozen=True)
class SampleQuality(MeasuredSection):
    """Samples against N test images, and N other real images against the same test images (the floor at this N)."""

    available: bool
    reason: str | None = None
    num_samples: int | None = None
    samples: QualityFigures = field(default_factory=QualityFigures)
    real: QualityFigures = field(default_factory=QualityFigures)
    recognised: Recognised | None = None
    test_images: int | None = None  # N of the test side
    feature_total_variance: float | None = None  # Tr(Sigma) of the test features: the scale of FIDs in them
    feature_extractor: dict[str, Any] = field(default_factory=dict)  # id, test accuracy, how it was chosen
    details: dict[str, Any] = field(default_factory=dict)  # sampling seed, the reference's and the real images' provenance

    def _measured_dict(self) -> dict[str, Any]:
        details = dict(self.details)
        reference = {**details.pop("reference", {}), "num_images": self.test_images, "feature_total_variance": self.feature_total_variance}
        real = {**details.pop("real_reference", {}), **self.real.to_dict()}
        out = {"available": True, "num_samples": self.num_samples, **details, "reference": reference,
               "feature_extractor": self.feature_extractor, "real_reference": real, **self.samples.to_dict()}
        if self.recognised is not None:
            out["recognised"] = self.recognised.to_dict()
        return out

    @classmethod
    def _from_measured(cls, values: Mapping[str, Any]) -> "SampleQuality":
        reference = dict(values.get("reference") or {})
        real = dict(values.get("real_reference") or {})
        details = _extra(values, {"available", "num_samples", "reference", "feature_extractor", "real_reference", "recognised"} | QUALITY_KEYS)
        details["reference"] = _extra(reference, {"num_images", "feature_total_variance"})
        details["real_reference"] = _extra(real, QUALITY_KEYS)
        return cls(True, None, values.get("num_samples"), QualityFigures.from_dict(values), QualityFigures.from_dict(real),
                   Recognised.from_dict(values.get("recognised")), reference.get("num_images"), reference.get("feature_total_variance"),
                   dict(values.get("feature_extractor") or {}), details)

    @property
    def real_images(self) -> int | None:
        """N of the real images compared with the test images."""
        return self.details.get("real_reference", {}).get("num_images")


@dataclass(frozen=True)
class Speed:
    """Sampling (or, for an image-to-image model, translation) seconds per image, and the training throughput."""

    device: str
    sampling_seconds_per_image: float | None = None
    sampling_batch_size: int | None = None
    training_images_per_s: float | None = None
    details: dict[str, Any] = field(default_factory=dict)  # images timed, notes, last/median throughput, training seconds

    @property
    def translating(self) -> bool:
        return "translation_outputs_per_s" in self.details

    def to_dict(self) -> dict[str, Any]:
        return {"device": self.device, "sampling_batch_size": self.sampling_batch_size,
                "sampling_seconds_per_image": self.sampling_seconds_per_image, **self.details,
                "training_images_per_s": self.training_images_per_s}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> "Speed | None":
        if not values:
            return None
        known = {"device", "sampling_seconds_per_image", "sampling_batch_size", "training_images_per_s"}
        return cls(values.get("device", "?"), values.get("sampling_seconds_per_image"), values.get("sampling_batch_size"),
                   values.get("training_images_per_s"), _extra(values, known))


@dataclass(frozen=True)
class Sharpness(MeasuredSection):
    """Variance of the Laplacian of the samples over that of as many test images (< 1: blurrier than the data)."""

    available: bool
    reason: str | None = None
    ratio: float | None = None
    num_samples: int | None = None
    num_test_images: int | None = None
    details: dict[str, Any] = field(default_factory=dict)  # both variances, preprocessing, what is measured

    def _measured_dict(self) -> dict[str, Any]:
        return {"available": True, "ratio": self.ratio, "num_samples": self.num_samples, "num_test_images": self.num_test_images,
                **self.details}

    @classmethod
    def _from_measured(cls, values: Mapping[str, Any]) -> "Sharpness":
        known = {"available", "ratio", "num_samples", "num_test_images"}
        return cls(True, None, values.get("ratio"), values.get("num_samples"), values.get("num_test_images"), _extra(values, known))


@dataclass(frozen=True)
class Modes(MeasuredSection):
    """Samples of a toy 2-D mixture: modes covered (of num_modes) and the share of high-quality samples."""

    available: bool
    reason: str | None = None
    modes_covered: int | None = None
    num_modes: int | None = None
    high_quality_fraction: float | None = None
    num_samples: int | None = None
    details: dict[str, Any] = field(default_factory=dict)  # counts, mixture, seed, criteria

    def _measured_dict(self) -> dict[str, Any]:
        return {"available": True, "modes_covered": self.modes_covered, "num_modes": self.num_modes,
                "high_quality_fraction": self.high_quality_fraction, "num_samples": self.num_samples, **self.details}

    @classmethod
    def _from_measured(cls, values: Mapping[str, Any]) -> "Modes":
        known = {"available", "modes_covered", "num_modes", "high_quality_fraction", "num_samples"}
        return cls(True, None, values.get("modes_covered"), values.get("num_modes"), values.get("high_quality_fraction"),
                   values.get("num_samples"), _extra(values, known))


@dataclass(frozen=True)
class EvaluationSections:
    """The typed sections of one evaluation result (each None when the evaluation has not got it)."""

    likelihood: Likelihood | None
    sample_quality: SampleQuality | None
    speed: Speed | None
    sharpness: Sharpness | None
    modes: Modes | None

    @classmethod
    def of(cls, result: Mapping[str, Any] | None) -> "EvaluationSections":
        result = result or {}
        return cls(Likelihood.from_dict(result.get("likelihood")), SampleQuality.from_dict(result.get("sample_quality")),
                   Speed.from_dict(result.get("speed")), Sharpness.from_dict(result.get("sharpness")), Modes.from_dict(result.get("modes")))
