"""A self-contained run report: metric table, training curves and image grids (Markdown + HTML).

`genzoo report` and `genzoo demo` write it: a comparison table and the lecture's properties
table (`genzoo.report.properties`) across runs, then one section per run.
"""

from __future__ import annotations

import html
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genzoo.report.properties import PROPERTIES_NOTE, PROPERTIES_TITLE


@dataclass
class RunSummary:
    """What the report shows for one run."""

    title: str
    run_dir: Path
    metrics: dict[str, Any]
    images: dict[str, Path] = field(default_factory=dict)  # caption -> PNG
    notes: list[str] = field(default_factory=list)


def training_curve(records: list[dict[str, Any]], path: Path, *, key: str = "loss", title: str = "") -> Path | None:
    """Train and test `key` against step as a PNG (matplotlib, Agg backend); None without data."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = {
        split: [(r["step"], r[key]) for r in records if r.get("split") == split and isinstance(r.get(key), (int, float))]
        for split in ("train", "test")
    }
    if not any(series.values()):
        return None
    figure, axes = plt.subplots(figsize=(5, 3.2), dpi=110)
    for split, points in series.items():
        if points:
            steps, values = zip(*points)
            axes.plot(steps, values, marker="o" if split == "test" else None, markersize=3, label=split)
    axes.set_xlabel("step")
    axes.set_ylabel(key)
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path


def write_report(runs: list[RunSummary], out_dir: Path, *, title: str = "genzoo report", intro: str = "",
                 comparison: list[dict[str, Any]] | None = None, properties: list[dict[str, Any]] | None = None,
                 side_by_side: dict[str, Path] | None = None, applications: list[Any] | None = None) -> Path:
    """Write out_dir/report.md and out_dir/index.html (images copied beside them); returns index.html.

    `comparison`: rows of one table across runs (same keys in every row), shown first;
    `properties`: rows of `genzoo.report.properties.property_row`, shown next as their own section;
    `side_by_side`: {caption: PNG} figures across runs (e.g. toy2d scatters), a section after the tables;
    `applications`: `genzoo.report.applications.ApplicationSection`s (a table and a figure per task), after that.
    """
    out_dir = Path(out_dir)
    assets = out_dir / "assets"
    assets.mkdir(parents=True, exist_ok=True)
    markdown = [f"# {title}", ""]
    body = [f"<h1>{html.escape(title)}</h1>"]
    if intro:
        markdown += [intro, ""]
        body.append(f"<p>{html.escape(intro)}</p>")
    for heading, note, rows, css_class in (("Comparison", "", comparison, "comparison"),
                                           (PROPERTIES_TITLE, PROPERTIES_NOTE, properties, "properties")):
        if not rows:
            continue
        markdown += [f"## {heading}", ""] + ([note, ""] if note else []) + _markdown_table(rows) + [""]
        body += [f"<h2>{html.escape(heading)}</h2>"] + ([f"<p>{html.escape(note)}</p>"] if note else []) + [_html_table(rows, css_class)]
    if side_by_side:
        markdown += ["## Side by side", ""]
        body.append("<h2>Side by side</h2>")
        for caption, image in side_by_side.items():
            relative = _copy_asset(image, assets / f"side-by-side-{_slug(caption)}.png", out_dir)
            markdown += [f"**{caption}**", "", f"![{caption}]({relative})", ""]
            body.append(_html_figure(relative, caption))
    if applications:
        markdown += ["## Applications", "", APPLICATIONS_NOTE, ""]
        body += ["<h2>Applications</h2>", f"<p>{html.escape(APPLICATIONS_NOTE)}</p>"]
        for index, section in enumerate(applications):
            markdown += [f"### {section.title}", "", section.note, ""] + _markdown_table(section.rows) + [""]
            body += [f"<h3>{html.escape(section.title)}</h3>", f"<p>{html.escape(section.note)}</p>", _html_table(section.rows, "applications")]
            if section.figure is not None:
                relative = _copy_asset(section.figure, assets / f"application-{index}.png", out_dir)
                markdown += [f"**{section.caption}**", "", f"![{section.caption}]({relative})", ""]
                body.append(_html_figure(relative, section.caption))
    for index, run in enumerate(runs):
        markdown += [f"## {run.title}", "", f"Run directory: `{run.run_dir}`", ""]
        body += [f"<h2>{html.escape(run.title)}</h2>", f"<p>Run directory: <code>{html.escape(str(run.run_dir))}</code></p>"]
        if run.metrics:
            metric_rows = [{"metric": name, "value": value} for name, value in run.metrics.items()]
            markdown += _markdown_table(metric_rows) + [""]
            body.append(_html_table(metric_rows, "metrics"))
        for note in run.notes:
            markdown += [note, ""]
            body.append(f"<p>{html.escape(note)}</p>")
        for caption, image in run.images.items():
            if not Path(image).exists():
                continue
            relative = _copy_asset(image, assets / f"{index}-{_slug(caption)}.png", out_dir)
            markdown += [f"**{caption}**", "", f"![{caption}]({relative})", ""]
            body.append(_html_figure(relative, caption))
    (out_dir / "report.md").write_text("\n".join(markdown), encoding="utf-8")
    page = (
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        + "\n".join(body)
        + "</body></html>"
    )
    index_path = out_dir / "index.html"
    index_path.write_text(page, encoding="utf-8")
    return index_path


_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 10px;text-align:left}"
    "figure{display:inline-block;margin:0 1em 1em 0}img{image-rendering:pixelated;max-width:100%}"
    "figcaption{font-size:0.9em;color:#555}"
)


APPLICATIONS_NOTE = (
    "The lecture's applications: per task, the training-free baseline and every image-to-image run on one yardstick, "
    "and the same test images through each of them. A regression net gives the blurry average, a conditional GAN one "
    "sharp answer, a conditional autoregressive model several sharp answers with an exact likelihood."
)


def _copy_asset(image: Path, target: Path, out_dir: Path) -> str:
    """Copy a figure beside the report; its path relative to out_dir."""
    shutil.copyfile(image, target)
    return os.path.relpath(target, out_dir)


def _html_figure(relative: str, caption: str) -> str:
    return f"<figure><img src=\"{html.escape(relative)}\" alt=\"{html.escape(caption)}\"><figcaption>{html.escape(caption)}</figcaption></figure>"


def _markdown_table(rows: list[dict[str, Any]]) -> list[str]:
    """Rows (the first row's keys are the columns) as Markdown table lines, `|` and newlines escaped."""
    columns = list(rows[0])
    return ["| " + " | ".join(_markdown_cell(c) for c in columns) + " |", "|" + "---|" * len(columns)] + [
        "| " + " | ".join(_markdown_cell(_fmt(row.get(c, ""))) for c in columns) + " |" for row in rows
    ]


def _html_table(rows: list[dict[str, Any]], css_class: str) -> str:
    columns = list(rows[0])
    header = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    cells = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(row.get(c, '')))}</td>" for c in columns) + "</tr>" for row in rows)
    return f"<table class=\"{css_class}\"><tr>{header}</tr>{cells}</table>"


def _markdown_cell(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split())


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-") or "image"
