#!/usr/bin/env bash
# Set everything up and run every check: lint, types, tests, and the grounding eval gate.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The browser tests drive Debian's Chromium; Playwright's own browser download is not used.
if [ ! -x /usr/bin/chromium ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium
fi
export HF_HUB_OFFLINE=1
.venv/bin/ruff check bot tests
.venv/bin/mypy bot
.venv/bin/pytest -q "$@"
