"""The run directory, below train/, metrics/, explore/ and report/: every layer finds a run's files here.

    RunDir(path)                   the paths of RUN_DIR (config.yaml, metrics.jsonl, checkpoints/, ...)
    RunDir.of_checkpoint(file)     the run a checkpoint file belongs to
    read_metrics(path)             the records of metrics.jsonl; a torn last line is skipped

This package and its layout / metrics_log modules import nothing but the standard library, so any
layer (and `genzoo --help`) may use them. Its other modules, imported by name, hold what every layer
above needs of a run: config (RunConfig), and, importing torch, checkpoint (the file format, reading
and writing), model (load_model), device (resolve_device), test_split (load_test_split).
"""

from genzoo.runs.layout import RunDir
from genzoo.runs.metrics_log import read_metrics

__all__ = ["RunDir", "read_metrics"]
