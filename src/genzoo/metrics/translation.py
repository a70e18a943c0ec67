"""The yardstick of an image-to-image model on the test split, and of its task's baseline.

    report = evaluate_translation(model, info, test_set, samples_per_input=4, extractor=extractor)
    report.to_dict()  # -> the "translation" section of `genzoo eval`

Each of the N test images (the run's test split, filtered by data.classes as in training, put
through the run's preprocessing and split by the task into condition c and target t) gets k
outputs from `model.translate(c)` (k = 1 for a deterministic model), scored as follows:

  fidelity     PSNR (dB) and SSIM of an output against its target, from `kornia.metrics`, with
               the value range (high - low) as the data range. SSIM (Wang et al. 2004): Gaussian
               window 11 x 11, sigma 1.5, K1 = 0.01, K2 = 0.03, averaged over the part of the map
               where the window stays inside the image (their MATLAB code, scikit-image); images
               smaller than 11 px use the largest odd window that fits. Means over images of the
               per-image values; an exact output (PSNR infinite) counts as PSNR_CEILING_DB.
               Given for one sample per input (sample 1) and for the mean of the k samples (the
               "mean output", which a regression to the mean approximates; the same for k = 1).
  consistency  condition_of(output) against the input, for tasks whose condition is computed from
               the target (task.derived), over all k samples:
                 superres  PSNR of the F x F area average of the output vs the low-resolution input;
                 colorize  mean |Y(output) - Y(input)| per pixel, as a share of the value range;
                 edges     F-score of the Canny edges of the output against the input sketch with a
                           1-pixel tolerance: an edge pixel is matched when the other map has an edge
                           in its 3 x 3 neighbourhood (Chebyshev distance <= 1); precision = matched
                           output edges / output edges, recall = matched sketch edges / sketch edges,
                           counts pooled over all images (an empty map has precision or recall 1).
  diversity    mean |s_i - s_j| per sub-pixel over the pairs i < j of an input's k samples, as a
               share of the value range, averaged over inputs: 0 for a deterministic model.
  realism      FID and KID of the outputs (sample 1 of each input, as uint8) against the N targets,
               in the features of genzoo's per-dataset classifier (`genzoo.metrics.features`), and
               that classifier's accuracy on the outputs next to its accuracy on the targets, both
               against the test labels (does a super-resolved sneaker stay a sneaker?). Only when the
               targets have the dataset's image shape (not paired side-by-side data) and the data
               has labels: the classifier is trained per dataset.
  likelihood   -log p(t | c) in nats per image and bits per target sub-pixel, for models with an
               exact likelihood (their `log_prob(x)` is log p(t | c)).
  speed        outputs per second of translate(c), batch stated.

The task's training-free baseline (`task.baseline(c)`: bicubic upsampling, the grey image) is
scored on the same images with the same yardstick, as an entry of its own.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from genzoo.data.tasks import Task, luma
from genzoo.errors import ConfigError

PSNR_CEILING_DB = 100.0  # an exact output; 8-bit quantisation alone keeps real outputs below ~60 dB
SSIM_WINDOW = 11  # kornia's window is a Gaussian of sigma 1.5 whatever its size
EDGE_TOLERANCE_PX = 1
Translate = Callable[[torch.Tensor, torch.Generator], torch.Tensor]  # condition (B, Cc, Hc, Wc) -> output (B, C, H, W)


# ---- measures of one batch (pure functions) ---------------------------------------------------
def psnr_per_image(outputs: torch.Tensor, targets: torch.Tensor, data_range: float) -> torch.Tensor:
    """PSNR in dB of each image (B,): 10 log10(range^2 / MSE) by kornia, one image at a time (kornia pools a batch)."""
    from kornia.metrics import psnr

    return torch.stack([psnr(output.double(), target.double(), float(data_range)) for output, target in zip(outputs, targets)])


def ssim_per_image(outputs: torch.Tensor, targets: torch.Tensor, data_range: float) -> torch.Tensor:
    """Mean SSIM of each image (B,) over the window positions inside the image (Wang et al. 2004, eq. 13)."""
    from kornia.metrics import ssim

    side = min(outputs.shape[-2:])
    window = SSIM_WINDOW if side >= SSIM_WINDOW else side - (1 - side % 2)  # the largest odd window that fits
    similarity = ssim(outputs.double(), targets.double(), window, max_val=float(data_range), eps=0.0, padding="valid")
    return similarity.mean(dim=(1, 2, 3))  # (B,)


def capped(psnr_db: torch.Tensor) -> torch.Tensor:
    """PSNR values with an exact output's infinity counted as PSNR_CEILING_DB."""
    return psnr_db.clamp(max=PSNR_CEILING_DB)


def pairwise_l1(samples: torch.Tensor) -> torch.Tensor:
    """samples (B, K, C, H, W) -> (B,): mean |s_i - s_j| per sub-pixel over the pairs i < j; 0 for K < 2."""
    batch, count = samples.shape[:2]
    if count < 2:
        return samples.new_zeros(batch)
    first, second = torch.triu_indices(count, count, offset=1, device=samples.device)
    return (samples[:, first] - samples[:, second]).abs().flatten(2).mean(dim=2).mean(dim=1)  # (B,)


@dataclass(frozen=True)
class EdgeCounts:
    """Edge pixels of an output map and a reference map, and how many of each are matched within the tolerance."""

    output: int = 0
    output_matched: int = 0
    reference: int = 0
    reference_matched: int = 0

    def __add__(self, other: EdgeCounts) -> EdgeCounts:
        return EdgeCounts(*(a + b for a, b in zip(asdict(self).values(), asdict(other).values())))

    @property
    def precision(self) -> float:
        return self.output_matched / self.output if self.output else 1.0

    @property
    def recall(self) -> float:
        return self.reference_matched / self.reference if self.reference else 1.0

    @property
    def f_score(self) -> float:
        precision, recall = self.precision, self.recall
        return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def edge_counts(output_edges: torch.Tensor, reference_edges: torch.Tensor, tolerance: int = EDGE_TOLERANCE_PX) -> EdgeCounts:
    """Boolean edge maps (B, 1, H, W) -> counts, a pixel matched when the other map has an edge within `tolerance` (Chebyshev)."""

    def near(edges: torch.Tensor) -> torch.Tensor:  # dilation by a (2 tolerance + 1)^2 square
        return F.max_pool2d(edges.float(), 2 * tolerance + 1, stride=1, padding=tolerance) > 0

    return EdgeCounts(
        output=int(output_edges.sum()), output_matched=int((output_edges & near(reference_edges)).sum()),
        reference=int(reference_edges.sum()), reference_matched=int((reference_edges & near(output_edges)).sum()),
    )


# ---- results ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Fidelity:
    """Mean per-image PSNR (dB, exact outputs at PSNR_CEILING_DB) and SSIM against the targets."""

    psnr_db: float
    ssim: float


@dataclass(frozen=True)
class Consistency:
    """condition_of(output) against the input: one figure, what it measures, and the edge precision/recall where it is an F-score."""

    name: str  # "condition_psnr_db", "luma_abs_error" or "edge_f_score"
    value: float
    measure: str
    precision: float | None = None
    recall: float | None = None


@dataclass(frozen=True)
class Realism:
    """FID/KID of N outputs against the N targets and the feature classifier's accuracy on both (test labels)."""

    fid: float
    kid_mean: float
    kid_std_error: float
    kid_subsets: int
    kid_subset_size: int
    accuracy_outputs: float | None  # None without labels
    accuracy_targets: float | None
    num_images: int


@dataclass(frozen=True)
class ConditionalLikelihood:
    """-log p(t | c): nats per image (summed over the target's sub-pixels) and bits per target sub-pixel."""

    nll_nats: float
    nll_nats_std_error: float | None
    bits_per_dim: float
    dims: int
    num_images: int


@dataclass(frozen=True)
class TranslationScores:
    """One translator (a model or the baseline) on the test images: every figure of the yardstick, N and k stated."""

    name: str
    test_images: int
    samples_per_input: int
    one_sample: Fidelity
    mean_of_samples: Fidelity
    consistency: Consistency | None
    diversity_l1: float
    outputs_per_s: float
    batch_size: int
    realism: Realism | None = None
    likelihood: ConditionalLikelihood | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TranslationReport:
    """The model and the baseline on the same test images: the "translation" section of an evaluation."""

    task: str
    test_images: int
    samples_per_input: int
    model: TranslationScores
    baseline: TranslationScores | None
    feature_extractor: dict[str, Any] | None
    realism_note: str | None
    classes: tuple[int, ...] | None = None
    measures: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "classes": None if self.classes is None else list(self.classes)}


MEASURES = {
    "fidelity": f"mean per-image PSNR (kornia; data range = value range; exact outputs at {PSNR_CEILING_DB:g} dB) and SSIM "
                f"(kornia; {SSIM_WINDOW}x{SSIM_WINDOW} Gaussian window, sigma 1.5, valid part of the map) against the targets; "
                "one_sample: sample 1 of each input; mean_of_samples: the mean of the k samples",
    "consistency": "condition_of(output) vs the input, all k samples: superres PSNR of the area-averaged output; colorize mean "
                   f"|luma difference| / value range; edges F-score of Canny edges vs the sketch, {EDGE_TOLERANCE_PX}-pixel tolerance, counts pooled",
    "diversity_l1": "mean |s_i - s_j| per sub-pixel over pairs of an input's k samples, / value range (0: deterministic)",
    "realism": "FID/KID of sample 1 per input vs the targets, genzoo feature classifier; its accuracy on outputs and on targets vs the test labels",
    "likelihood": "-log p(target | condition), nats per image and bits per target sub-pixel (exact-likelihood models)",
}


# ---- accumulating over batches --------------------------------------------------------------------
@dataclass
class _Tally:
    """Running sums over the test images; `scores` turns them into a TranslationScores."""

    images: int = 0
    psnr_one: float = 0.0
    ssim_one: float = 0.0
    psnr_mean: float = 0.0
    ssim_mean: float = 0.0
    diversity: float = 0.0
    consistency: float = 0.0
    consistency_images: int = 0
    edges: EdgeCounts = field(default_factory=EdgeCounts)
    seconds: float = 0.0
    outputs: int = 0

    def add_fidelity(self, samples: torch.Tensor, target: torch.Tensor, data_range: float) -> None:
        """samples (B, K, C, H, W), target (B, C, H, W) in the value space."""
        mean = samples.mean(dim=1)  # (B, C, H, W) the mean output
        self.psnr_one += float(capped(psnr_per_image(samples[:, 0], target, data_range)).sum())
        self.ssim_one += float(ssim_per_image(samples[:, 0], target, data_range).sum())
        self.psnr_mean += float(capped(psnr_per_image(mean, target, data_range)).sum())
        self.ssim_mean += float(ssim_per_image(mean, target, data_range).sum())
        self.diversity += float(pairwise_l1(samples).sum()) / data_range
        self.images += len(target)

    def add_consistency(self, task: Task, samples: torch.Tensor, condition: torch.Tensor) -> None:
        """Every sample's condition_of against its input (derived tasks only)."""
        count = samples.shape[1]
        outputs = samples.flatten(0, 1)  # (B K, C, H, W), input b's samples together
        inputs = condition.repeat_interleave(count, dim=0)  # (B K, Cc, Hc, Wc)
        low, high = task.value_range
        recomputed = task.condition_of(outputs)
        if task.name == "superres":
            self.consistency += float(capped(psnr_per_image(recomputed, inputs, high - low)).sum())
        elif task.name == "colorize":
            self.consistency += float((luma(outputs) - inputs).abs().flatten(1).mean(dim=1).sum()) / (high - low)
        elif task.name == "edges":
            middle = (low + high) / 2
            self.edges += edge_counts(recomputed > middle, inputs > middle)
        self.consistency_images += len(outputs)

    def consistency_result(self, task: Task) -> Consistency | None:
        if not task.derived or not self.consistency_images:
            return None
        if task.name == "edges":
            return Consistency("edge_f_score", self.edges.f_score, f"edge F-score of Canny(output) vs the input sketch, {EDGE_TOLERANCE_PX}-pixel tolerance",
                               precision=self.edges.precision, recall=self.edges.recall)
        mean = self.consistency / self.consistency_images
        if task.name == "superres":
            return Consistency("condition_psnr_db", mean, f"PSNR (dB) of the {task.factor}x{task.factor} area average of the output vs the input")
        return Consistency("luma_abs_error", mean, "mean |Y(output) - Y(input)| per pixel, as a share of the value range")

    def scores(self, name: str, task: Task, samples_per_input: int, batch_size: int, **extra: Any) -> TranslationScores:
        count = max(self.images, 1)
        return TranslationScores(
            name=name, test_images=self.images, samples_per_input=samples_per_input,
            one_sample=Fidelity(self.psnr_one / count, self.ssim_one / count),
            mean_of_samples=Fidelity(self.psnr_mean / count, self.ssim_mean / count),
            consistency=self.consistency_result(task), diversity_l1=self.diversity / count,
            outputs_per_s=self.outputs / self.seconds if self.seconds > 0 else math.inf, batch_size=batch_size, **extra,
        )


# ---- the test pairs ----------------------------------------------------------------------------------
def preprocessed_batches(images: torch.Tensor, preprocessor: Any, *, batch_size: int, seed: int, device: torch.device) -> Iterator[torch.Tensor]:
    """uint8 images (N, C, H, W) -> preprocessed batches (B, C, H, W) on `device`, the random steps seeded: the same batches on every call."""
    generator = torch.Generator(device="cpu").manual_seed(seed)
    for start in range(0, len(images), batch_size):
        yield preprocessor(images[start : start + batch_size], generator=generator).to(device)


def _batch_progress(batches: Iterator[Any], count: int, batch_size: int, desc: str, progress: bool) -> Iterator[Any]:
    from genzoo.progress import progress_iter

    return progress_iter(batches, total=math.ceil(count / batch_size), desc=desc, enabled=progress)


# ---- scoring a translator --------------------------------------------------------------------------
@dataclass(frozen=True)
class _Pass:
    """What one pass of a translator over the test images leaves: its tally, sample 1 per input and the targets as uint8."""

    tally: _Tally
    outputs: torch.Tensor  # (N, C, H, W) uint8
    targets: torch.Tensor  # (N, C, H, W) uint8


def score_pass(
    translate: Translate, task: Task, images: torch.Tensor, preprocessor: Any, *, data_format: Any, samples_per_input: int, batch_size: int,
    seed: int, device: torch.device, desc: str, progress: bool,
) -> _Pass:
    """Draw `samples_per_input` outputs for each test image's condition and tally the yardstick (see the module docstring)."""
    from genzoo.models.sampling import to_display

    low, high = task.value_range
    generator = torch.Generator(device=device).manual_seed(seed)
    step = max(1, batch_size // samples_per_input)  # translate sees step x k conditions at once
    tally, outputs, targets = _Tally(), [], []
    batches = preprocessed_batches(images, preprocessor, batch_size=step, seed=seed, device=device)
    for x in _batch_progress(batches, len(images), step, desc, progress):
        condition, target = task.split(x)  # (B, Cc, Hc, Wc), (B, C, H, W)
        samples, seconds = _timed(translate, condition.repeat_interleave(samples_per_input, dim=0), generator)
        samples = samples.view(len(target), samples_per_input, *target.shape[1:])  # (B, K, C, H, W)
        tally.seconds, tally.outputs = tally.seconds + seconds, tally.outputs + samples.shape[0] * samples_per_input
        tally.add_fidelity(samples, target, high - low)
        if task.derived:
            tally.add_consistency(task, samples, condition)
        outputs.append(to_display(samples[:, 0], data_format).cpu())
        targets.append(preprocessor.to_uint8(target).cpu())
    return _Pass(tally, torch.cat(outputs), torch.cat(targets))


def _timed(translate: Translate, condition: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, float]:
    started = time.perf_counter()
    output = translate(condition, generator)
    if output.device.type == "cuda":
        torch.cuda.synchronize(output.device)
    return output, time.perf_counter() - started


def conditional_likelihood(
    model: Any, images: torch.Tensor, preprocessor: Any, *, batch_size: int, seed: int, progress: bool,
) -> ConditionalLikelihood:
    """-log p(t | c) = -model.log_prob(x) per test image, in nats and bits per target sub-pixel (dequantized data: the discrete nll)."""
    from genzoo.metrics.iwae import bits_per_dim, discrete_nll_from_density

    dims = math.prod(model.target_shape)
    data_format = model.data_format
    values = []
    batches = preprocessed_batches(images, preprocessor, batch_size=batch_size, seed=seed, device=model.device)
    for x in _batch_progress(batches, len(images), batch_size, "conditional likelihood", progress):
        with torch.no_grad():
            nll = -model.log_prob(x).double().cpu()  # (B,)
        if data_format.levels is None:  # a density on dequantized data -> the comparable discrete nll
            low, high = data_format.value_range
            nll = discrete_nll_from_density(nll, dims, levels=preprocessor.discrete_levels, value_width=high - low)
        values.append(nll)
    nll = torch.cat(values)
    error = float(nll.std() / math.sqrt(len(nll))) if len(nll) > 1 else None
    return ConditionalLikelihood(float(nll.mean()), error, float(bits_per_dim(nll.mean(), dims)), dims, len(nll))


def realism(
    extractor: Any, outputs: torch.Tensor, targets: Any, labels: torch.Tensor | None, *, seed: int, kid_subsets: int, kid_subset_size: int,
) -> Realism:
    """FID/KID of uint8 outputs (N, C, H, W) against the targets' ReferenceStatistics, and classifier accuracy on both."""
    from genzoo.metrics.reference import statistics_of_images
    from genzoo.metrics.sample_quality import frechet_distance, kid

    generated = statistics_of_images(extractor, outputs)
    size = min(kid_subset_size, max(2, min(generated.num_images, targets.num_images) // 2))  # a proper part of each set
    value = kid(targets.features, generated.features, subsets=kid_subsets, subset_size=size, seed=seed)
    return Realism(
        fid=frechet_distance(targets.mu, targets.sigma, generated.mu, generated.sigma), kid_mean=value.mean, kid_std_error=value.std_error,
        kid_subsets=kid_subsets, kid_subset_size=size, accuracy_outputs=_accuracy(generated.class_probs, labels),
        accuracy_targets=_accuracy(targets.class_probs, labels), num_images=generated.num_images,
    )


def _accuracy(class_probs: np.ndarray, labels: torch.Tensor | None) -> float | None:
    """Top-1 accuracy of p(y|x) (N, K [+ 1 outlier class]) against labels (N,); the outlier class counts as wrong."""
    if labels is None:
        return None
    return float((class_probs.argmax(axis=1) == labels.cpu().numpy()).mean())


def _translator(model: Any, temperature: float) -> Translate:
    def translate(condition: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return model.translate(condition, temperature=temperature, generator=generator)

    return translate


def _realism_judge(extractor: Any, targets: torch.Tensor, labels: torch.Tensor | None, **options: Any) -> Callable[[torch.Tensor], Realism]:
    """`realism` of uint8 outputs against these uint8 targets (N, C, H, W), their features computed once."""
    from genzoo.metrics.reference import statistics_of_images

    target_statistics = statistics_of_images(extractor, targets)
    return lambda outputs: realism(extractor, outputs, target_statistics, labels, **options)


def realism_skip_reason(task: Task, image_shape: tuple[int, int, int], num_classes: int | None) -> str | None:
    """Why the feature classifier cannot judge the outputs (None when it can)."""
    target_shape = task.target_shape(image_shape)
    if tuple(target_shape) != tuple(image_shape):
        return (f"realism skipped: the outputs ({'x'.join(map(str, target_shape))}) are not images of the dataset "
                f"({'x'.join(map(str, image_shape))}), which its feature classifier takes")
    if not num_classes:
        return "realism skipped: the dataset has no class labels to train its feature classifier on"
    return None


# ---- the whole yardstick ------------------------------------------------------------------------------
def evaluate_translation(
    model: Any,
    info: Any,
    test_set: Any,
    *,
    samples_per_input: int = 4,
    test_images: int | None = None,
    batch_size: int = 256,
    seed: int = 0,
    temperature: float = 1.0,
    extractor: Any = None,
    extractor_description: dict[str, Any] | None = None,
    realism_note: str | None = None,
    likelihood: bool = True,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    progress: bool = True,
) -> TranslationReport:
    """The model's yardstick and its task's baseline on the first `test_images` images of `test_set` (default all).

    extractor: the feature classifier for realism (None: realism skipped, `realism_note` says why);
    likelihood: the conditional NLL, where the model has an exact likelihood.
    """
    if samples_per_input < 1:
        raise ConfigError(f"samples per input must be >= 1, got {samples_per_input}")
    task = model.task
    count = len(test_set) if test_images is None else min(test_images, len(test_set))
    if count < 1:
        raise ConfigError(f"the translation yardstick needs test images, got {count}: raise --test-images")
    if extractor is not None and count < 2:
        extractor, realism_note = None, "realism skipped: FID and KID need at least 2 outputs"
    images = test_set.images[:count]  # (N, C, H, W') uint8
    labels = None if test_set.labels is None else test_set.labels[:count]
    preprocessor = info.make_preprocessor()
    k = samples_per_input if model.stochastic else 1
    options = dict(data_format=model.data_format, batch_size=batch_size, seed=seed, device=model.device, progress=progress)
    was_training = model.training
    model.eval()
    try:
        model_pass = score_pass(_translator(model, temperature), task, images, preprocessor, samples_per_input=k,
                                desc=f"translate ({model.name})", **options)
        extra: dict[str, Any] = {}
        if likelihood and model.capabilities.exact_likelihood:
            extra["likelihood"] = conditional_likelihood(model, images, preprocessor, batch_size=batch_size, seed=seed, progress=progress)
    finally:
        model.train(was_training)
    judge = None if extractor is None else _realism_judge(extractor, model_pass.targets, labels, seed=seed, kid_subsets=kid_subsets,
                                                          kid_subset_size=kid_subset_size)
    scores = model_pass.tally.scores(model.name, task, k, batch_size, realism=None if judge is None else judge(model_pass.outputs), **extra)
    baseline = None
    if task.baseline_name is not None:
        baseline_pass = score_pass(lambda condition, _: task.baseline(condition), task, images, preprocessor, samples_per_input=1,
                                   desc=f"baseline ({task.baseline_name})", **options)
        baseline = baseline_pass.tally.scores(task.baseline_name, task, 1, batch_size, realism=None if judge is None else judge(baseline_pass.outputs))
    classes = info.run_config.data.classes
    return TranslationReport(task=task.spec, test_images=count, samples_per_input=k, model=scores, baseline=baseline,
                             feature_extractor=extractor_description, realism_note=realism_note,
                             classes=None if classes is None else tuple(classes), measures=dict(MEASURES))


# ---- summary lines -----------------------------------------------------------------------------------
def translation_lines(section: dict[str, Any]) -> list[str]:
    """The `genzoo eval` lines of a "translation" section (a TranslationReport.to_dict()): header, model, baseline, realism note."""
    k = section["samples_per_input"]
    classes = f", classes {section['classes']}" if section.get("classes") else ""
    lines = [f"translation {section['task']}: N={section['test_images']} test images{classes}, {k} output{'s' if k > 1 else ''} per input"]
    for entry in (section["model"], section.get("baseline")):
        if entry:
            lines += scores_lines(entry, section.get("feature_extractor"))
    if section.get("realism_note"):
        lines.append(section["realism_note"])
    return lines


def scores_lines(entry: dict[str, Any], extractor: dict[str, Any] | None) -> list[str]:
    """One translator's figures (a TranslationScores.to_dict()): fidelity, consistency, diversity and speed; then realism and NLL."""
    one, mean, k = entry["one_sample"], entry["mean_of_samples"], entry["samples_per_input"]
    fidelity = f"PSNR {one['psnr_db']:.2f} dB, SSIM {one['ssim']:.3f}"
    if k > 1:
        fidelity += f" (one sample); mean of {k} samples PSNR {mean['psnr_db']:.2f} dB, SSIM {mean['ssim']:.3f}"
    diversity = f"diversity {entry['diversity_l1']:.4f}" if k > 1 else "diversity 0 (one output per input)"
    parts = [fidelity, _consistency_text(entry.get("consistency")), diversity, f"{entry['outputs_per_s']:.0f} outputs/s (batch {entry['batch_size']})"]
    lines = [f"  {entry['name']}: " + "; ".join(part for part in parts if part)]
    if entry.get("realism"):
        lines.append(f"    {entry['name']} realism: " + _realism_text(entry["realism"], extractor))
    figures = entry.get("likelihood")
    if figures:
        lines.append(f"    {entry['name']} NLL {figures['nll_nats']:.2f} nats = {figures['bits_per_dim']:.4f} bits/dim of p(target | input) "
                     f"(exact, N={figures['num_images']})")
    return lines


def _consistency_text(consistency: dict[str, Any] | None) -> str:
    if not consistency:
        return ""
    name, value = consistency["name"], consistency["value"]
    if name == "condition_psnr_db":
        return f"consistency: downscaled output vs input PSNR {value:.2f} dB"
    if name == "luma_abs_error":
        return f"consistency: luma error {value:.4f} of the range"
    return f"consistency: edge F {value:.3f} (precision {consistency['precision']:.3f}, recall {consistency['recall']:.3f}, {EDGE_TOLERANCE_PX}-px tolerance)"


def _realism_text(figures: dict[str, Any], extractor: dict[str, Any] | None) -> str:
    text = f"FID {figures['fid']:.3f}, KID {figures['kid_mean']:.5f} +- {figures['kid_std_error']:.5f} vs {figures['num_images']} targets"
    if extractor:
        text += f" [features {extractor['id']}]"
    if figures.get("accuracy_outputs") is not None:
        text += f"; classifier accuracy {figures['accuracy_outputs']:.3f} on outputs, {figures['accuracy_targets']:.3f} on targets"
    return text
