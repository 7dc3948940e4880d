#!/usr/bin/env bash
# Set everything up, index corpus/ and start the chat.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/bot ingest corpus/
exec .venv/bin/bot chat "$@"
