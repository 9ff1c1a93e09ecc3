#!/usr/bin/env bash
# Install everything the assistant needs (idempotent; fast when already installed).
#   bash scripts/setup.sh          runtime dependencies
#   bash scripts/setup.sh --dev    + test tools, Milvus Lite and a Milvus 2.3.5 server for the Milvus store's tests, Ray Data for the tests of ingest --ray, Debian's headless Chromium for the browser test,
#                                  llama.cpp and the local model for the language-model tests
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"

# The CPU build of torch first: a bare `torch` requirement would pull a multi-GB CUDA build.
if ! "$PYTHON" -c 'import torch, sys; sys.exit(0 if torch.__version__.startswith("2.13.0") else 1)' 2>/dev/null; then
    "$PYTHON" -m pip install --quiet "torch==2.13.0"
fi

if [[ "${1:-}" == "--dev" ]]; then
    # llama.cpp for the local generator, built from source once (pip keeps the wheel). Portable
    # x86-64 flags: a -march=native build turns on AMX on CPUs that have it, and AMX crashes
    # where the kernel does not grant it (containers, some VMs).
    if ! "$PYTHON" -c 'import llama_cpp' 2>/dev/null; then
        CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON}" \
            "$PYTHON" -m pip install --quiet "llama-cpp-python[server]==0.3.36"
    fi
    "$PYTHON" -m pip install --quiet -e ".[dev,local,milvus,scale]"
    "$PYTHON" -m rag.cli model pull  # the local generator's default model (1.1 GB, once)
    if [[ ! -x /usr/bin/chromium ]]; then
        SUDO=""; [[ "$(id -u)" != 0 ]] && SUDO="sudo"
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium fonts-noto-cjk >/dev/null
    fi
else
    "$PYTHON" -m pip install --quiet -e .
fi
