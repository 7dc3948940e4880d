#!/usr/bin/env bash
# Set everything up, index corpus/ and start the browser chat on http://127.0.0.1:7860.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/bot ingest corpus/
# The chat shows no example questions unless told to; this script indexes corpus/, so it
# offers questions about corpus/, unless the environment or .env already sets examples.
if [ -z "${BOT_WEB_EXAMPLES+set}" ] && ! grep -qs '^[[:space:]]*BOT_WEB_EXAMPLES=' .env; then
  export BOT_WEB_EXAMPLES='["When was the US-Japan Security Treaty formed?",
    "Who is Shigeru Ishiba?", "What did Trump'"'"'s 1987 newspaper advertisement criticize?"]'
fi
exec .venv/bin/bot web "$@"
