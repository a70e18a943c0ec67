"""`genzoo explore`'s argument parsing and handler: torch-free to register, prints its address, warns when shared,
skips folders that are not runs, and stops with one line on a busy port or a missing path."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from genzoo.errors import GenzooError
from genzoo.explore.server.command import add_explore_command, run_explore

SERVE = """
import argparse, sys
from genzoo.explore.server.command import add_explore_command, run_explore
parser = argparse.ArgumentParser(prog="genzoo")
add_explore_command(parser.add_subparsers(dest="command"))
sys.exit(run_explore(parser.parse_args(sys.argv[1:])))
"""


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="genzoo")
    add_explore_command(parser.add_subparsers(dest="command"))
    return parser.parse_args(["explore", *argv])


def test_registering_the_command_imports_neither_torch_nor_starlette():
    probe = ("import argparse, sys; from genzoo.explore.server.command import add_explore_command; "
             "add_explore_command(argparse.ArgumentParser().add_subparsers()); "
             "print(sorted(m for m in ('torch', 'starlette', 'uvicorn', 'numpy') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"


def test_defaults_bind_this_machine_only():
    args = parse("runs/a", "runs/b")
    assert args.runs == ["runs/a", "runs/b"] and args.host == "127.0.0.1" and args.which == "best" and args.device == "cpu"


def test_a_busy_port_or_a_missing_run_is_one_line(explore_runs, tmp_path):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    try:
        with pytest.raises(GenzooError, match=rf"^cannot listen on 127\.0\.0\.1:{port} \(.+\): choose another --port \(0 picks a free one\)$"):
            run_explore(parse(str(explore_runs["vae"]), "--port", str(port)))
    finally:
        taken.close()
    with pytest.raises(GenzooError, match=r"nowhere does not exist: pass run directories written by `genzoo train`"):
        run_explore(parse(str(tmp_path / "nowhere"), "--port", "0"))
    with pytest.raises(GenzooError, match=r"is a genzoo run: pass run directories"):
        run_explore(parse(str(tmp_path), "--port", "0"))


def test_the_command_serves_the_runs_prints_its_address_and_warns_when_shared(explore_runs):
    runs_root = explore_runs["vae"].parent
    command = [sys.executable, "-c", SERVE, "explore", str(explore_runs["vae"]), str(runs_root / "report"), str(explore_runs["toy"]),
               "--host", "0.0.0.0", "--port", "0", "--threads", "1"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"})
    try:
        lines = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            lines.append(line)
            if line.startswith("genzoo explore:") or not line:
                break
        address = lines[-1]
        assert address.startswith("genzoo explore: http://") and "(bound to 0.0.0.0)" in address, "".join(lines)
        assert f"skipped {runs_root / 'report'}: not a genzoo run directory\n" in lines
        port = int(address.split("/ (bound")[0].rsplit(":", 1)[1])
        listed = httpx.get(f"http://127.0.0.1:{port}/api/runs", timeout=30).json()["runs"]
        assert [run["name"] for run in listed] == ["vae", "toy"]
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0
    assert stderr.startswith("warning: serving on 0.0.0.0: anyone who can reach this machine can use the page"), stderr
