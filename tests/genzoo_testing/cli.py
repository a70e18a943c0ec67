"""The genzoo command run for real in a subprocess, the way every CLI test runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def cli_environment(root: Path) -> dict[str, str]:
    """Data and caches under `root`, unbuffered output, one thread (two on a busy 2-core machine can be 10x slower)."""
    return {**os.environ, "GENZOO_DATA": str(root / "data"), "XDG_CACHE_HOME": str(root / "cache"), "PYTHONUNBUFFERED": "1",
            "OMP_NUM_THREADS": "1"}


def run_genzoo(*args: str, cwd: Path, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
    """`genzoo ARGS` in `cwd`; with check, a non-zero exit fails the test with both outputs. timeout: a hang, not slowness."""
    result = subprocess.run([sys.executable, "-m", "genzoo", *args], cwd=cwd, env=cli_environment(cwd), capture_output=True,
                            text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"genzoo {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result
