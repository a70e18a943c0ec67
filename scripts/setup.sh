#!/usr/bin/env bash
# Set up genzoo on a fresh machine: virtualenv, pinned torch, genzoo itself, Fashion-MNIST,
# and Chromium for the report's render test.
# Idempotent and quiet when nothing is left to do. Used by `make demo` and `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${VENV:-.venv}"
PYTHON="${PYTHON:-python3}"
TORCH_VERSION="${GENZOO_TORCH_VERSION:-2.13.0}"

say() { printf '[setup] %s\n' "$*"; }

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
  echo "[setup] error: genzoo needs Python >= 3.10 (found: $("$PYTHON" --version 2>&1)); set PYTHON=/path/to/python3.x" >&2
  exit 2
fi

if [ ! -x "$VENV/bin/python" ]; then
  say "creating virtualenv $VENV"
  "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)

# torch first and pinned: an open range would pull several GB of CUDA wheels.
if ! "$VENV/bin/python" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$TORCH_VERSION')" 2>/dev/null; then
  say "installing torch==$TORCH_VERSION"
  "${PIP[@]}" install "torch==$TORCH_VERSION"
fi

stamp="$VENV/.genzoo-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || ! "$VENV/bin/python" -c 'import genzoo' 2>/dev/null; then
  say "installing genzoo (editable) with test dependencies"
  "${PIP[@]}" install -e '.[dev]'
  touch "$stamp"
fi

# Fashion-MNIST: Debian ships it; without root, genzoo downloads it on first use.
if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian package dataset-fashion-mnist"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1; then
      apt-get update -q >/dev/null 2>&1 || true
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 \
        || say "could not install dataset-fashion-mnist; genzoo will try to download Fashion-MNIST"
    fi
  else
    say "Fashion-MNIST not installed system-wide; genzoo downloads it to ~/.cache/genzoo on first use"
  fi
fi

# Chromium: tests/report/test_render_chromium.py opens the report in it (skipped without it).
# Debian's package is about 110 MB to download, about a minute to install.
if [ -z "${GENZOO_CHROMIUM:-}" ] && ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1 \
    && ! command -v google-chrome >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian package chromium (for the report's render test)"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1; then
      apt-get update -q >/dev/null 2>&1 || true
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 \
        || say "could not install chromium; the report's render test will be skipped"
    fi
  else
    say "no Chromium found; the report's render test is skipped (install chromium or set GENZOO_CHROMIUM)"
  fi
fi
