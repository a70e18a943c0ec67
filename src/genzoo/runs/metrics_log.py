"""Reading RUN_DIR/metrics.jsonl: one JSON object per line, written by genzoo.train.logging.

A process killed mid-write can leave a torn last line; it is skipped, as is any other line
that is not a JSON object (a resumed run appends after a torn line before trimming the file),
so a crashed run's log stays readable by the report, the evaluation and a resume.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from genzoo.runs.layout import METRICS_LOG


def read_metrics(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The records of a metrics.jsonl file, or of RUN_DIR/metrics.jsonl for a run directory; [] when absent."""
    path = Path(path)
    if path.is_dir():
        path = path / METRICS_LOG
    if not path.exists():
        return []
    records = []
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # torn by a crash
            if isinstance(record, dict):
                records.append(record)
    return records
