#!/usr/bin/env bash
# Install everything the assistant needs (idempotent; fast when already installed).
#   bash scripts/setup.sh          runtime dependencies
#   bash scripts/setup.sh --dev    + test tools and Debian's headless Chromium for the browser test
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"

# The CPU build of torch first: a bare `torch` requirement would pull a multi-GB CUDA build.
if ! "$PYTHON" -c 'import torch, sys; sys.exit(0 if torch.__version__.startswith("2.13.0") else 1)' 2>/dev/null; then
    "$PYTHON" -m pip install --quiet "torch==2.13.0"
fi

if [[ "${1:-}" == "--dev" ]]; then
    "$PYTHON" -m pip install --quiet -e ".[dev]"
    if [[ ! -x /usr/bin/chromium ]]; then
        SUDO=""; [[ "$(id -u)" != 0 ]] && SUDO="sudo"
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium fonts-noto-cjk >/dev/null
    fi
else
    "$PYTHON" -m pip install --quiet -e .
fi
