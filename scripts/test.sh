#!/usr/bin/env bash
# Set everything up and run every check: lint, types, tests, and the grounding eval gate.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1
.venv/bin/ruff check bot tests
.venv/bin/mypy bot
.venv/bin/pytest -q "$@"
