#!/usr/bin/env bash
# Set up (with test tools) and run the whole test suite: fast unit tests and integration tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev
exec "${PYTHON:-python3}" -m pytest "$@"
