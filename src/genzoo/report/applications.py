"""The report's Applications section: image-to-image runs grouped by task, on one yardstick and one figure.

The lecture's applications slide (super-resolution, colorization, sketch -> image) with its
point about each family: a regression net gives the blurry average, a conditional GAN one sharp
answer, a conditional autoregressive model many plausible sharp answers with an exact likelihood.
Runs that share a dataset, a task and a class filter form one section:
  - a table: the task's training-free baseline, then every run, on the yardstick of
    `genzoo.metrics.translation` read from each run's evaluation.json (N and k stated);
  - a figure: the same test images in rows; input | baseline | each model's outputs (one for a
    deterministic model, AUTOREGRESSIVE_SAMPLES for a model with a likelihood, else one) | target.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from genzoo.report.properties import number

FIGURE_INPUTS = 6  # test images in rows
FIGURE_WIDTH_PX = 960  # the cells' width: the report's column (the page scales it down where narrower)
AUTOREGRESSIVE_SAMPLES = 3  # outputs drawn per input for a model with an exact likelihood (its diversity)
TASK_TITLES = {"superres": "super-resolution", "colorize": "colorization", "edges": "sketch (edges) -> image", "paired": "paired translation"}


@dataclass(frozen=True)
class ApplicationRun:
    """One image-to-image run: its directory, loaded model and checkpoint info, and its evaluation (or None)."""

    run_dir: Path
    model: Any
    info: Any
    result: dict[str, Any] | None

    @property
    def group(self) -> tuple[str, str, str, str]:
        """(dataset, its options, task, classes): runs with the same key are compared in one section."""
        data = self.info.run_config.data
        return (data.name, repr(sorted(data.options.items())), str(data.task), repr(data.classes))


@dataclass(frozen=True)
class ApplicationSection:
    """One task's part of the report: title, how to read it, the table rows and the figure."""

    title: str
    note: str
    rows: list[dict[str, str]]
    figure: Path | None
    caption: str


def application_sections(runs: Sequence[ApplicationRun], out_dir: Path, *, seed: int = 0, data_dir: str | None = None) -> list[ApplicationSection]:
    """One section per (dataset, task, classes) among `runs`, figures written into out_dir."""
    groups: dict[tuple[str, str, str, str], list[ApplicationRun]] = {}
    for run in runs:
        groups.setdefault(run.group, []).append(run)
    return [_section(members, Path(out_dir) / f"applications-{index}.png", seed=seed, data_dir=data_dir)
            for index, members in enumerate(groups.values())]


def _section(runs: list[ApplicationRun], path: Path, *, seed: int, data_dir: str | None) -> ApplicationSection:
    first = runs[0]
    task, data = first.model.task, first.info.run_config.data
    classes = f", classes {list(data.classes)}" if data.classes else ""
    title = f"{TASK_TITLES.get(task.name, task.name)}: {task.spec} on {data.name}{classes}"
    figure, caption = application_figure(runs, path, seed=seed, data_dir=data_dir)
    return ApplicationSection(title, _note(runs), table_rows(runs), figure, caption)


def _note(runs: list[ApplicationRun]) -> str:
    sections = [run.result["translation"] for run in runs if run.result and run.result.get("translation")]
    missing = [f"`genzoo eval {run.run_dir}`" for run in runs if not (run.result and run.result.get("translation"))]
    images = " or ".join(str(n) for n in sorted({s["test_images"] for s in sections}))
    outputs = " or ".join(str(k) for k in sorted({s["samples_per_input"] for s in sections}))
    measured = f"N={images} test images, k={outputs} outputs per input (k=1: a deterministic model)" if sections else ""
    parts = [
        "PSNR/SSIM: fidelity to the target (one sample; 'mean of k' scores the average of an input's k outputs, "
        "which a regression to the mean approximates); consistency: the output's own condition against the input; "
        "diversity: mean |difference| between an input's outputs (0: one answer); FID and classifier accuracy: realism "
        "of the outputs against the test targets in the features of genzoo's classifier.",
        f"Measured on {measured}." if measured else "",
        f"Not evaluated yet: run {', '.join(missing)}." if missing else "",
    ]
    return " ".join(part for part in parts if part)


def table_rows(runs: list[ApplicationRun]) -> list[dict[str, str]]:
    """The baseline (from the first evaluated run) and every run, one row each, "-" where not measured."""
    sections = [(run, run.result.get("translation")) for run in runs if run.result]
    baseline = next((section["baseline"] for _, section in sections if section and section.get("baseline")), None)
    rows = [score_row(f"{baseline['name']} (baseline, no training)", baseline)] if baseline else []
    for run in runs:
        section = (run.result or {}).get("translation") or {}
        rows.append(score_row(f"{run.model.name} ({run.run_dir.name}, step {run.info.step})", section.get("model")))
    return rows


def score_row(name: str, scores: dict[str, Any] | None) -> dict[str, str]:
    """One row of the applications table from a `TranslationScores` dict (None: not measured)."""
    scores = scores or {}
    one, mean = scores.get("one_sample") or {}, scores.get("mean_of_samples") or {}
    realism = scores.get("realism") or {}
    likelihood = scores.get("likelihood") or {}
    return {
        "model": name,
        "PSNR dB (mean of k)": _pair(one.get("psnr_db"), mean.get("psnr_db"), ".2f") if scores else "-",
        "SSIM": number(one.get("ssim"), ".3f") if one else "-",
        "consistency": _consistency(scores.get("consistency")) if scores else "-",
        "diversity": number(scores.get("diversity_l1"), ".3f") if scores else "-",
        "FID": number(realism.get("fid"), ".3g") if realism else "-",
        "classifier acc. outputs / targets": _pair(realism.get("accuracy_outputs"), realism.get("accuracy_targets"), ".1%", "/")
        if realism else "-",
        "NLL bits/dim": number(likelihood.get("bits_per_dim"), ".3f") if likelihood else "-",
        "outputs/s": number(scores.get("outputs_per_s"), ".0f") if scores else "-",
    }


def _pair(first: float | None, second: float | None, spec: str, separator: str = "") -> str:
    if separator:
        return f"{number(first, spec)} {separator} {number(second, spec)}"
    return f"{number(first, spec)} ({number(second, spec)})"


CONSISTENCY_LABELS = {"condition_psnr_db": ("PSNR", ".1f", " dB"), "luma_abs_error": ("luma error", ".3f", ""), "edge_f_score": ("edge F", ".2f", "")}


def _consistency(consistency: dict[str, Any] | None) -> str:
    """The task's consistency figure in words: "PSNR 31.2 dB", "luma error 0.012", "edge F 0.71"."""
    if not consistency:
        return "-"
    label, spec, unit = CONSISTENCY_LABELS.get(consistency.get("name"), (str(consistency.get("name")), ".3g", ""))
    return f"{label} {number(consistency.get('value'), spec)}{unit}"


@torch.no_grad()
def application_figure(runs: list[ApplicationRun], path: Path, *, seed: int = 0, data_dir: str | None = None) -> tuple[Path | None, str]:
    """Rows of the same test images: input | baseline | each run's outputs | target, labelled; (PNG, caption)."""
    from genzoo.explore.figure import save_labelled_grid
    from genzoo.explore.translation import input_label, pairs_of_test_images
    from genzoo.models.sampling import to_display

    first = runs[0]
    task, target_shape = first.model.task, tuple(first.model.target_shape)
    condition, target = pairs_of_test_images(first.info, task, range(FIGURE_INPUTS), data_dir=data_dir, seed=seed)
    columns, labels = [task.as_image(condition, target_shape)], [input_label(task, first.model.condition_shape)]
    if task.baseline_name is not None:
        columns.append(task.baseline(condition))
        labels.append(task.baseline_name)
    for run in runs:
        outputs = _outputs(run.model, condition, seed)  # (B, k, C, H, W)
        columns += list(outputs.unbind(dim=1))
        name = run.model.name.replace("-", "-\n")  # narrower labels, a larger font
        labels += [name] if outputs.shape[1] == 1 else [f"{name}\nsample {i}" for i in range(1, outputs.shape[1] + 1)]
    columns.append(target)
    labels.append("target")
    cells = to_display(torch.stack([c.cpu().to(target.dtype) for c in columns], dim=1).flatten(0, 1), first.model.data_format)
    figure = save_labelled_grid(cells, path, nrow=len(labels), column_labels=labels, row_labels=[f"test {i}" for i in range(FIGURE_INPUTS)],
                                scale=_scale(first.model.target_shape, len(labels)))
    caption = (f"The same {FIGURE_INPUTS} test images through every model: input, "
               + (f"the {task.baseline_name} baseline, " if task.baseline_name else "")
               + f"each model's outputs ({AUTOREGRESSIVE_SAMPLES} samples of a model with a likelihood), target")
    return figure, caption


def _scale(target_shape: tuple[int, int, int], columns: int) -> int:
    """Cell enlargement filling about FIGURE_WIDTH_PX with `columns` cells, at least 2."""
    return max(2, FIGURE_WIDTH_PX // (columns * target_shape[2]))


def _outputs(model: Any, condition: torch.Tensor, seed: int) -> torch.Tensor:
    """k outputs per input (B, k, C, H, W): one for a deterministic model or a GAN, several for an autoregressive one."""
    count = AUTOREGRESSIVE_SAMPLES if model.stochastic and model.capabilities.exact_likelihood else 1
    generator = torch.Generator(device=model.device).manual_seed(seed)
    outputs = model.translate(condition.to(model.device).repeat_interleave(count, dim=0), generator=generator)
    return outputs.view(len(condition), count, *model.target_shape).cpu()
