"""The runs a server explores: loaded once at start, addressed by their index, never by a path.

`load_runs` turns the command line's run directories into `ExploreRun`s (a directory that is
not a genzoo run, like the demo's report/, is skipped with a note). Each knows the tools its
model's declared capabilities allow (`tools_for`), its slider basis, its test images (loaded
on first use, preprocessed as in training, each with a fixed seed) and how to turn an image
source ({"kind": "test", "index": i} or {"kind": "upload", "id": u}) into a code z: the encoder
where there is one, generator inversion (genzoo.explore.inversion) for a GAN.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from genzoo.data.toy2d import point_mixture
from genzoo.errors import GenzooError
from genzoo.explore.inversion import invert_generator
from genzoo.explore.sampling import to_display
from genzoo.explore.server.compute import DecodeBatcher, Workers
from genzoo.explore.server.images import png_url
from genzoo.explore.server.latent import (
    MAX_DIMENSION_SLIDERS, PCA_SAMPLES, SliderBasis, code_pca_basis, dimension_basis, ganspace_basis,
)
from genzoo.explore.server.uploads import UploadStore
from genzoo.explore.server.validation import RequestError, integer, mapping
from genzoo.explore.traversal import dimension_label, dims_to_show
from genzoo.models.autoregressive import AutoregressiveModel
from genzoo.models.base import GenerativeModel
from genzoo.runs import RunDir

TEST_SEED = 0  # test image i is preprocessed with a generator seeded TEST_SEED + i (random binarization repeats)
INVERSION = {"steps": 200, "restarts": 3, "lr": 0.05}  # a page waits for it: 1-3 s for the 28x28 DCGAN CPU preset, one thread
USAGE_IMAGES = 500  # test images whose codes order a VAE's dimensions by KL


class RunPathError(GenzooError):
    """A command-line path that does not exist, or no path that holds a genzoo run."""


def is_run_directory(path: Path) -> bool:
    """A genzoo run directory (config.yaml or checkpoints/), or a checkpoint file."""
    if path.is_file():
        return path.suffix == ".safetensors"
    run = RunDir(path)
    return run.config.is_file() or (path / "checkpoints").is_dir()


def tools_for(model: GenerativeModel, dataset: str, options: dict[str, Any]) -> tuple[str, ...]:
    """The page's tools the model's declared capabilities allow, in the page's order."""
    capabilities = model.capabilities
    if point_mixture(dataset, options) is not None:
        return ("points",)
    tools: list[str] = []
    if capabilities.latent_decoder and hasattr(model.config, "latent_dim"):
        tools += ["sliders", "interpolate"]
        if model.config.latent_dim == 2:
            tools.append("manifold")
        if not capabilities.label_conditional:
            tools.append("arithmetic")
    if capabilities.exact_likelihood and isinstance(model, AutoregressiveModel):  # not conditional-pixelcnn: its output needs an input
        tools += ["draw", "complete"]
    if capabilities.image_to_image:
        tools.append("translate")
    return tuple(tools)


@dataclass
class TestImages:
    """A run's test split: uint8 images (N, C, H, W) and labels (N,) or None."""

    images: torch.Tensor
    labels: torch.Tensor | None


@dataclass
class SourceImage:
    """An image to start from, as the model sees it: x (1, C, H, W), its display, its label, a note."""

    x: torch.Tensor
    shown: torch.Tensor  # uint8 (C, H, W)
    label: int | None
    note: str = ""


@dataclass
class ExploreRun:
    """One run on the page: its model and checkpoint info, tools, slider basis and test images."""

    index: int
    name: str
    model: GenerativeModel
    info: Any  # genzoo.train.CheckpointInfo
    workers: Workers
    tools: tuple[str, ...] = ()
    basis: SliderBasis | None = None
    decoder: DecodeBatcher | None = None
    drawing: threading.Lock = field(default_factory=threading.Lock)  # one drawing at a time per model
    cache: dict[str, Any] = field(default_factory=dict)  # what a tool loads once (training split, classifier)
    cache_lock: threading.Lock = field(default_factory=threading.Lock)
    _test: TestImages | None = None
    _test_problem: str | None = None
    _test_lock: threading.Lock = field(default_factory=threading.Lock)

    # ---- what the page needs to know -----------------------------------------------------------
    @property
    def data_format(self):  # noqa: ANN201
        return self.model.data_format

    @property
    def dataset_name(self) -> str:
        return self.info.run_config.data.name

    @property
    def class_names(self) -> list[str]:
        classes = self.data_format.num_classes or 0
        names = self.info.dataset.get("class_names") or []
        return list(names) if len(names) == classes else [f"class {k}" for k in range(classes)]

    @property
    def conditional(self) -> bool:
        return bool(self.model.capabilities.label_conditional and self.data_format.num_classes)

    @property
    def latent_dim(self) -> int | None:
        return getattr(self.model.config, "latent_dim", None) if self.model.capabilities.latent_decoder else None

    def describe(self) -> dict[str, Any]:
        """The run as /api/runs lists it."""
        test = self.test_set()
        return {
            "id": self.index,
            "name": self.name,
            "model": self.model.name,
            "step": self.info.step,
            "dataset": self.dataset_name,
            "image_shape": list(self.data_format.image_shape),
            "capabilities": self.model.capabilities.names(),
            "tools": list(self.tools),
            "classes": self.class_names if self.conditional else [],
            "latent_dim": self.latent_dim,
            "sliders": None if self.basis is None else self.basis.describe(),
            "test_images": 0 if test is None else len(test.images),
            "test_problem": self._test_problem,
            "starts_from_images": self.model.capabilities.encoder or self.model.capabilities.latent_decoder,
            "encoding": self.encoding_method(),
            **self._tool_details(),
        }

    def _tool_details(self) -> dict[str, Any]:
        """Settings of the tools that have some: the live game a toy run replays, an image-to-image task."""
        if "points" in self.tools:
            from genzoo.explore.server.points_tool import game_settings

            return {"game": game_settings(self)}
        if "translate" in self.tools:
            from genzoo.explore.server.translate_tool import describe_task

            return {"task": describe_task(self.model)}
        return {}

    def encoding_method(self) -> str | None:
        if self.model.capabilities.encoder:
            return "encoder"
        if self.model.capabilities.latent_decoder:
            return (f"generator inversion: z* = argmin |G(z) - x|^2 by Adam, {INVERSION['steps']} steps from "
                    f"{INVERSION['restarts']} random starts (Creswell & Bharath 2016)")
        return None

    # ---- test images ---------------------------------------------------------------------------
    def test_set(self) -> TestImages | None:
        """The test split (loaded once), or None when it cannot be had (`_test_problem` says why)."""
        with self._test_lock:
            if self._test is None and self._test_problem is None:
                self._test, self._test_problem = _load_test_split(self.info)
        return self._test

    def test_batch(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Test images `indices` preprocessed as in training: x (B, C, H, W) and labels (B,) or None."""
        test = self.test_set()
        if test is None:
            raise RequestError(f"no test images for this run: {self._test_problem}", 409)
        bad = [i for i in indices if not 0 <= i < len(test.images)]
        if bad:
            raise RequestError(f"test image {bad[0]} does not exist: this run has test images 0..{len(test.images) - 1}", 404)
        preprocess = self.info.make_preprocessor()
        x = torch.cat([preprocess(test.images[i : i + 1], generator=torch.Generator().manual_seed(TEST_SEED + i)) for i in indices])
        labels = None if test.labels is None else test.labels[indices]
        return x.to(self.model.device), labels

    def thumbnails(self, start: int, count: int) -> list[dict[str, Any]]:
        test = self.test_set()
        if test is None:
            raise RequestError(f"no test images for this run: {self._test_problem}", 409)
        indices = list(range(start, min(start + count, len(test.images))))
        names = self.info.dataset.get("class_names") or []
        return [{"index": i, "image": png_url(test.images[i]), "label": None if test.labels is None else _label_name(int(test.labels[i]), names)}
                for i in indices]  # the images as stored; once chosen, the page shows them preprocessed, as the model sees them

    # ---- sources -------------------------------------------------------------------------------
    def source_image(self, body: dict[str, Any], uploads: UploadStore) -> SourceImage:
        """{"kind": "test", "index": i} or {"kind": "upload", "id": u} -> the image as the model sees it."""
        source = mapping(body, "source")
        kind = source.get("kind")
        if kind == "test":
            index = integer(source, "index", low=0)
            x, labels = self.test_batch([index])
            return SourceImage(x, to_display(x, self.data_format)[0], None if labels is None else int(labels[0]), f"test image {index}")
        if kind == "upload":
            upload = uploads.get(self.index, source.get("id"))
            return SourceImage(upload.x.to(self.model.device), upload.shown, None, upload.note)
        raise RequestError(f"source kind must be test or upload, got {kind!r}")

    def label_of(self, body: dict[str, Any], fallback: int | None = None) -> int | None:
        """The class a conditional model is asked for (body["label"], else `fallback`, else 0); None when unconditional."""
        if not self.conditional:
            return None
        if body.get("label") is None:
            return 0 if fallback is None else fallback
        return integer(body, "label", low=0, high=self.data_format.num_classes - 1)

    def cached(self, key: str, make: Any) -> Any:
        """`make()` once per run (under a lock: two first requests load it once)."""
        with self.cache_lock:
            if key not in self.cache:
                self.cache[key] = make()
            return self.cache[key]

    def labels_tensor(self, label: int | None, count: int = 1) -> torch.Tensor | None:
        return None if label is None else torch.full((count,), label, dtype=torch.long, device=self.model.device)

    # ---- codes ---------------------------------------------------------------------------------
    def encode(self, x: torch.Tensor, label: int | None) -> tuple[torch.Tensor, float | None]:
        """x (1, C, H, W) -> its code z (D,) and, for inversion, the reconstruction's mean squared error."""
        labels = self.labels_tensor(label)
        if self.model.capabilities.encoder:
            with torch.no_grad():
                return self.model.encode(x, labels)[0].float().cpu(), None
        generator = torch.Generator(device=self.model.device).manual_seed(0)
        found = invert_generator(self.model, x, labels=labels, generator=generator, **INVERSION)
        return found.latents[0].float().cpu(), float(found.errors[0])

    def random_code(self, seed: int) -> torch.Tensor:
        generator = torch.Generator(device=self.model.device).manual_seed(seed)
        return self.model.sample_latent(1, generator=generator)[0].float().cpu()  # (D,)

    def decode_batch(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """z (B, D) -> uint8 (B, C, H, W): the quick pool's work for the DecodeBatcher."""
        images = self.model.decode(z.to(self.model.device), None if labels is None else labels.to(self.model.device))
        return to_display(images, self.data_format).cpu()

    def code_description(self, z: torch.Tensor) -> dict[str, Any]:
        """A code as the sliders read it: z, slider values c and the base with base + c U = z."""
        if self.basis is None:
            return {"z": z.tolist()}
        c, base = self.basis.coefficients(z)
        return {"z": z.tolist(), "coefficients": c.tolist(), "base": base.tolist()}


def _label_name(label: int, names: list[str]) -> str:
    return names[label] if 0 <= label < len(names) else str(label)


def _load_test_split(info: Any) -> tuple[TestImages | None, str | None]:
    from genzoo.data import load_dataset
    from genzoo.data.dataset import keep_classes

    data = info.run_config.data
    try:
        dataset = load_dataset(data.name, "test", data_dir=data.data_dir, download=False, progress=False, **data.options)
        if data.classes is not None:
            dataset = keep_classes(dataset, data.classes)
        images = dataset.images
        if not isinstance(images, torch.Tensor):
            return None, f"dataset {data.name} is streamed from disk"
    except (GenzooError, OSError, ValueError) as error:
        return None, str(error).splitlines()[0]
    return TestImages(images, dataset.labels), None


# ---- the slider basis ---------------------------------------------------------------------------
def slider_basis(run: ExploreRun) -> SliderBasis | None:
    """One slider per dimension for small latents (by KL when test images allow), principal directions for large ones."""
    model, dim = run.model, run.latent_dim
    if dim is None or "sliders" not in run.tools:
        return None
    if dim <= MAX_DIMENSION_SLIDERS:
        return _dimension_basis(run)
    labels = _class_cycle(run, PCA_SAMPLES)
    test = run.test_set() if model.capabilities.encoder else None
    if test is not None:
        count = min(PCA_SAMPLES, len(test.images))
        x, y = run.test_batch(list(range(count)))
        with torch.no_grad():
            codes = torch.cat([model.encode(x[i : i + 256], None if y is None or not run.conditional else y[i : i + 256].to(model.device))
                               for i in range(0, count, 256)]).float().cpu()
        if count > dim:
            return code_pca_basis(codes)
    return ganspace_basis(model, labels=labels)


def _class_cycle(run: ExploreRun, count: int) -> torch.Tensor | None:
    return torch.arange(count) % run.data_format.num_classes if run.conditional else None


def _dimension_basis(run: ExploreRun) -> SliderBasis:
    from genzoo.metrics.latent_usage import latent_usage

    test = run.test_set() if run.model.capabilities.encoder else None
    if test is None or len(test.images) < 2:
        return dimension_basis(run.model)
    x, y = run.test_batch(list(range(min(USAGE_IMAGES, len(test.images)))))
    usage = latent_usage(run.model, x, y if run.conditional else None)
    order = dims_to_show(usage, max_rows=run.latent_dim, min_active=run.latent_dim + 1)  # every dimension, most used first
    return dimension_basis(run.model, order, [dimension_label(d, usage) for d in order])


# ---- loading ----------------------------------------------------------------------------------------
def load_runs(paths: list[str], workers: Workers, *, device: str = "cpu", which: str = "best",
              log: Any = print) -> list[ExploreRun]:
    """The runs named on the command line, in order; directories without a run are skipped with a note."""
    from genzoo.runs.model import load_model

    runs: list[ExploreRun] = []
    for path in paths:
        if not Path(path).exists():
            raise RunPathError(f"{path} does not exist: pass run directories written by `genzoo train` (or `genzoo demo`)")
        if not is_run_directory(Path(path)):
            log(f"skipped {path}: not a genzoo run directory")
            continue
        model, info = load_model(path, which=which, device=device)
        runs.append(prepare_run(len(runs), run_name(path), model, info, workers))
        log(f"run {len(runs) - 1}: {runs[-1].name} ({model.name}, step {info.step}; tools: {', '.join(runs[-1].tools) or 'none'})")
    if not runs:
        raise RunPathError(f"none of {', '.join(paths)} is a genzoo run: pass run directories written by `genzoo train`")
    return runs


def run_name(path: str) -> str:
    resolved = Path(path).resolve()
    if resolved.is_file():
        return RunDir.of_checkpoint(resolved).root.name
    return resolved.name


def prepare_run(index: int, name: str, model: GenerativeModel, info: Any, workers: Workers) -> ExploreRun:
    """An ExploreRun with its tools, slider basis and decode batcher (models loaded in eval mode)."""
    model.eval()
    data = info.run_config.data
    run = ExploreRun(index, name, model, info, workers, tools_for(model, data.name, dict(data.options)))
    with torch.no_grad():
        run.basis = slider_basis(run)
    if run.latent_dim is not None and run.tools and run.tools != ("points",):
        run.decoder = DecodeBatcher(run.decode_batch, workers)
    return run
