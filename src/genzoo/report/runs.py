"""What the report shows for one trained run: its family, a comparison row, a properties row and its figures.

The family follows the lecture's taxonomy (CS231n lecture 13) and is read from the model's
declared capabilities, never from its name (`genzoo.report.properties.lecture_family`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NamedTuple

import torch

from genzoo.atomic_file import atomic_write
from genzoo.data.toy2d import point_mixture
from genzoo.metrics.results import EvaluationSections, SampleQuality, Speed
from genzoo.models.base import Capabilities
from genzoo.report.properties import lecture_family, number, property_row
from genzoo.report.summary import RunSummary, training_curve
from genzoo.runs import RunDir, read_metrics
from genzoo.runs.layout import REPORT_FIGURES

_FAMILY_NAMES = {
    "autoregressive": "explicit density (autoregressive)",
    "latent variable": "approximate density (latent variable)",
    "autoencoder": "latent variable, no prior (autoencoder)",
    "adversarial": "implicit density (adversarial)",
    "image-to-image": "application (image-to-image)",
}


class RunReport(NamedTuple):
    """One run's part of the report: its section, its comparison row and its properties row."""

    summary: RunSummary
    comparison: dict[str, Any]
    properties: dict[str, str]


def family_of(capabilities: Any) -> str:
    return _FAMILY_NAMES[lecture_family(capabilities)]


def comparison_row(model_name: str, capabilities: Any, result: dict[str, Any]) -> dict[str, Any]:
    """One row of the comparison table from an `evaluate_run` result ("-" where not measured)."""
    sections = EvaluationSections.of(result)
    likelihood = sections.likelihood
    if likelihood is None:
        density = "-" if capabilities.exact_likelihood or capabilities.likelihood_bound else "none"
    elif likelihood.available:
        best = likelihood.headline
        density = f"{'exact' if likelihood.kind == 'exact' else 'bound'}: {number(best.nats, '.1f')} nats ({number(best.bits_per_dim, '.3f')} bits/dim)"
    else:
        density = "none"
    quality, speed = sections.sample_quality, sections.speed or Speed("?")
    sampling, training = speed.sampling_seconds_per_image, speed.training_images_per_s
    return {
        "family": family_of(capabilities),
        "model": model_name,
        "test NLL per image": density,
        "FID (real images)": _with_real(quality, "fid", lambda figures: number(figures.fid, ".1f")),
        "precision / recall (real images)": _with_real(quality, "pr", lambda figures: f"{number(figures.precision, '.2f')} / {number(figures.recall, '.2f')}"),
        "recognised (real images)": _recognised(quality),
        "sampling ms/image": f"{sampling * 1000:.2f}" if sampling is not None else "-",
        "training images/s": f"{training:.0f}" if training is not None else "-",
    }


def _with_real(quality: SampleQuality | None, figure: str, text: Any) -> str:
    """"95.6 (3.9)": the samples' figure, then the same figure for real images vs the test images ("-" if not measured)."""
    if quality is None or figure not in quality.samples.measured:
        return "-"
    return text(quality.samples) + (f" ({text(quality.real)})" if figure in quality.real.measured else "")


def _recognised(quality: SampleQuality | None) -> str:
    recognised = None if quality is None else quality.recognised
    if recognised is None:
        return "-"
    return f"{number(recognised.samples, '.0%')} ({number(recognised.test_images, '.0%')} of test images)"


FIGURES_DIR = REPORT_FIGURES  # RUN_DIR/report-figures/: the report's drawings of the run, reused while its checkpoint is unchanged
FIGURES_VERSION = 3  # bump when the figures drawn here change, so cached ones are redrawn


def run_figures(run_dir: Path, *, which: str = "last", seed: int = 0, data_dir: str | None = None) -> tuple[Any, Any, dict[str, Path]]:
    """The run's figures (samples, and what its family can show) in RUN_DIR/report-figures; (model, info, {caption: png}).

    Drawing them samples the model (minutes for an autoregressive one on a CPU), so they are kept
    with a record of the checkpoint they came from and redrawn only when it changes.
    """
    from genzoo.runs.model import load_model

    run_dir = Path(run_dir)
    model, info = load_model(run_dir, which=which)
    folder = RunDir(run_dir).report_figures
    stamp = figure_stamp(info.path, seed)
    images = cached_figures(folder, stamp)
    if images is None:
        print(f"report: drawing the figures of {run_dir} (step {info.step}) ...", file=sys.stderr, flush=True)
        images = draw_figures(model, info, folder, seed=seed, data_dir=data_dir)
        write_figure_record(folder, stamp, images)
    curve = training_curve(read_metrics(run_dir), folder / "training_curve.png", key="loss", title=f"{model.name} on {info.run_config.data.name}")
    if curve:
        images["training loss"] = curve
    return model, info, images


def figure_stamp(checkpoint: Path, seed: int) -> dict[str, Any]:
    """What the figures depend on: the checkpoint file (name, size, modification time), the seed, this code's version."""
    status = Path(checkpoint).stat()
    return {"checkpoint": Path(checkpoint).name, "bytes": status.st_size, "mtime_ns": status.st_mtime_ns, "seed": seed, "version": FIGURES_VERSION}


def cached_figures(folder: Path, stamp: dict[str, Any]) -> dict[str, Path] | None:
    """{caption: png} drawn earlier for the same stamp, or None (no record, another checkpoint, a file missing)."""
    try:
        record = json.loads((folder / "figures.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("stamp") != stamp or not isinstance(record.get("figures"), dict):
        return None
    images = {str(caption): folder / str(name) for caption, name in record["figures"].items()}
    return images if all(path.is_file() for path in images.values()) else None


def write_figure_record(folder: Path, stamp: dict[str, Any], images: dict[str, Path]) -> None:
    record = {"stamp": stamp, "figures": {caption: path.name for caption, path in images.items()}}
    atomic_write(folder / "figures.json", json.dumps(record, indent=1))


def draw_figures(model: Any, info: Any, folder: Path, *, seed: int, data_dir: str | None) -> dict[str, Path]:
    """Draw the samples and the figures the model's capabilities allow into `folder`: {caption: png}."""
    from genzoo.data.grid import save_image_grid
    from genzoo.explore.completion import completion_figure
    from genzoo.explore.figure import save_labelled_grid
    from genzoo.explore.inputs import test_images
    from genzoo.explore.interpolation import decode_path, interpolation_column_labels
    from genzoo.explore.reconstruction import reconstruction_row_labels, reconstruction_rows
    from genzoo.explore.sampling import class_rows, sample_images, to_display

    mixture = point_mixture(info.run_config.data.name, info.run_config.data.options)
    caps = model.capabilities
    if caps.image_to_image:
        return {TRANSLATION_CAPTION: translation_grid(model, info, folder / "translations.png", seed=seed, data_dir=data_dir)}
    if mixture is None and caps.label_conditional and model.data_format.num_classes:
        grid, row_labels = class_rows(model, 8, class_names=info.dataset.get("class_names"), seed=seed, progress=True)
        images = {"samples, one row per class": save_labelled_grid(grid, folder / "samples.png", nrow=8, row_labels=row_labels)}
    elif mixture is None:
        images = {"samples": save_image_grid(sample_images(model, 64, seed=seed, progress=True), folder / "samples.png", nrow=8, scale=None)}
    else:  # toy2d: 2-D points, drawn as a scatter over the true modes; image figures would show 1x2 "images"
        images = {SCATTER_CAPTION: toy2d_scatter(model, info, folder / "samples.png", seed=seed)}
        caps = Capabilities()
    if caps.encoder:
        x, y = test_images(info, range(16), data_dir=data_dir)
        grid, per_row = reconstruction_rows(model, x, y, per_row=8)
        images["test images (odd rows) over reconstructions (even rows)"] = save_labelled_grid(
            grid, folder / "reconstructions.png", nrow=per_row, row_labels=reconstruction_row_labels(len(x), per_row))
    if caps.exact_likelihood:
        x, _ = test_images(info, range(4), data_dir=data_dir)
        images["completions: original, top half kept, 4 samples of the rest"] = completion_figure(
            model, x, "top-half", folder / "completions.png", n=4, row_labels=tuple(f"test {i}" for i in range(len(x))),
            generator=torch.Generator().manual_seed(seed))
    if caps.latent_decoder:
        z = model.sample_latent(8, generator=torch.Generator().manual_seed(seed + 1))  # (8, D)
        path = decode_path(model, z[:4], z[4:], steps=8, kind="slerp")
        images["latent interpolations (slerp)"] = save_labelled_grid(
            to_display(path, model.data_format), folder / "interpolations.png", nrow=8,
            row_labels=tuple(f"pair {i + 1}" for i in range(4)), column_labels=interpolation_column_labels(8))
    return images


TRANSLATION_CAPTION = "test inputs: input | baseline | outputs | target"


def translation_grid(model: Any, info: Any, path: Path, *, seed: int, data_dir: str | None) -> Path:
    """Eight test inputs of an image-to-image run beside the baseline, three outputs and the target, labelled."""
    from genzoo.explore.figure import save_labelled_grid
    from genzoo.explore.translation import pairs_of_test_images, translation_figure

    condition, target = pairs_of_test_images(info, model.task, range(8), data_dir=data_dir, seed=seed)
    figure = translation_figure(model, condition, target, n=3, generator=torch.Generator(device=model.device).manual_seed(seed))
    return save_labelled_grid(figure.images, path, nrow=len(figure.column_labels), column_labels=figure.column_labels,
                              row_labels=tuple(f"test {i}" for i in range(8)))


def saved_evaluation(run_dir: Path, step: int) -> tuple[dict[str, Any] | None, str]:
    """RUN_DIR/evaluation.json when it measured the checkpoint at `step`; else None and the command that makes it."""
    path = RunDir(run_dir).evaluation
    command = f"run `genzoo eval {run_dir}` to add its metrics"
    try:
        result = json.loads(path.read_text())
    except FileNotFoundError:
        return None, f"not evaluated: {command}"
    except (OSError, ValueError) as error:
        return None, f"{path} is unreadable ({type(error).__name__}): {command}"
    if not isinstance(result, dict):
        return None, f"{path} is not an evaluation record: {command}"
    if result.get("step") != step:
        return result, f"evaluation.json measured step {result.get('step')}, the checkpoint is at step {step}: {command.replace('add', 'refresh')}"
    return result, f"metrics from evaluation.json (step {step})"


def run_summary(run_dir: Path, result: dict[str, Any] | None, *, which: str = "last", data_dir: str | None = None) -> tuple[RunReport, Any, Any]:
    """The report section, comparison row and properties row of one run (result: its `evaluate_run` dict, or None),
    with the loaded model and checkpoint info."""
    model, info, images = run_figures(run_dir, which=which, data_dir=data_dir)
    notes = list((result or {}).get("summary") or [f"not evaluated: run `genzoo eval {run_dir}` to add its metrics"])
    summary = RunSummary(title=f"{family_of(model.capabilities)}: {model.name}", run_dir=Path(run_dir), metrics={}, images=images, notes=notes)
    report = RunReport(summary, comparison_row(model.name, model.capabilities, result or {}), property_row(model.name, model.capabilities, result or {}))
    return report, model, info


def report_runs(run_dirs: list[Path], out_dir: Path, *, title: str, intro: str, which: str = "last", data_dir: str | None = None) -> Path:
    """One report over trained runs: metrics from each evaluation.json, figures from each checkpoint; returns index.html.

    Says per run (stderr) whether its evaluation.json is used, stale or missing, with the command that makes it.
    Image-to-image runs leave the comparison and properties tables (made for unconditional models) for the
    Applications section, one per task (`genzoo.report.applications`).
    """
    from genzoo.report.applications import ApplicationRun, application_sections
    from genzoo.report.summary import write_report
    from genzoo.train import find_checkpoint, read_checkpoint_info

    summaries, rows, properties, names, applications = [], [], [], [], []
    for run_dir in map(Path, run_dirs):
        result, note = saved_evaluation(run_dir, read_checkpoint_info(find_checkpoint(run_dir, which)).step)
        print(f"report: {run_dir}: {note}", file=sys.stderr, flush=True)
        (summary, row, properties_row), model, info = run_summary(run_dir, result, which=which, data_dir=data_dir)
        summaries.append(summary)
        if model.capabilities.image_to_image:
            applications.append(ApplicationRun(run_dir, model, info, result))
            continue
        rows.append(row)
        properties.append(properties_row)
        names.append(run_dir.name)
    name_runs_apart(rows, properties, names)
    toy2d = toy2d_side_by_side([Path(run) for run in run_dirs], Path(out_dir) / "toy2d-side-by-side.png", which=which)
    side_by_side = {"toy2d runs: samples over the true modes": toy2d} if toy2d else None
    sections = application_sections(applications, Path(out_dir) / "applications", data_dir=data_dir) if applications else None
    return write_report(summaries, Path(out_dir), title=title, intro=intro, comparison=rows, properties=properties,
                        side_by_side=side_by_side, applications=sections)


def name_runs_apart(rows: list[dict[str, Any]], properties: list[dict[str, Any]], names: list[str]) -> None:
    """Rows of one model shown more than once get their run directory's name: "gan (gan-toy2d-minimax)"."""
    models = [row["model"] for row in rows]
    for index, model in enumerate(models):
        if models.count(model) > 1:
            for table in (rows, properties):
                table[index]["model"] = f"{model} ({names[index]})"


# ---- toy 2-D runs: scatter plots over the true modes -----------------------------------------
SCATTER_CAPTION = "samples over the true modes (toy2d)"
SCATTER_SAMPLES = 2500  # PacGAN's sample count for mode coverage


def toy2d_scatter(model: Any, info: Any, path: Path, *, seed: int = 0) -> Path:
    """One toy2d run's scatter of SCATTER_SAMPLES samples over its mixture's modes, figures in the title."""
    from genzoo.explore.scatter import draw_mode_scatter_panels, run_heading, sample_panel

    mixture = point_mixture(info.run_config.data.name, info.run_config.data.options)
    panel = sample_panel(model, mixture, n=SCATTER_SAMPLES, seed=seed, heading=run_heading(model, info.step))
    return draw_mode_scatter_panels([panel], path)


def toy2d_side_by_side(run_dirs: list[Path], path: Path, *, which: str = "last", seed: int = 0) -> Path | None:
    """The scatters of every toy2d run among run_dirs side by side in one PNG (None for fewer than two)."""
    from genzoo.explore.scatter import draw_mode_scatter_panels, run_heading, sample_panel
    from genzoo.runs.model import load_model

    panels = []
    for run_dir in run_dirs:
        model, info = load_model(run_dir, which=which)
        mixture = point_mixture(info.run_config.data.name, info.run_config.data.options)
        if mixture is not None:
            heading = f"{Path(run_dir).name}\n{run_heading(model, info.step)}"
            panels.append(sample_panel(model, mixture, n=SCATTER_SAMPLES, seed=seed, heading=heading))
    if len(panels) < 2:
        return None
    return draw_mode_scatter_panels(panels, path, panel_inches=4.7)  # two panels fit the report's 960 px column
