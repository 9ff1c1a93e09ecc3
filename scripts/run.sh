#!/usr/bin/env bash
# Set up, build the index of the bundled newspapers if needed, and serve the chat on http://127.0.0.1:7860
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec "${PYTHON:-python3}" app.py "$@"
