#!/usr/bin/env bash
# Set everything up, index corpus/ and start the browser chat on http://127.0.0.1:7860.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/bot ingest corpus/
exec .venv/bin/bot web "$@"
