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
# Known vulnerabilities in the exact dependency versions of this build.
bash scripts/audit.sh
.venv/bin/pytest -q "$@"
# Grounding eval gate: the seed set over corpus/ and a fixed SQuAD sample, each held to the
# bars in evals/thresholds.toml (a regression below a bar fails the build).
.venv/bin/bot eval evals/datasets/seed.jsonl --corpus corpus/ \
  --thresholds evals/thresholds.toml --out test-artifacts/eval-seed
SQUAD=""
for candidate in "${BOT_EVAL_SQUAD:-}" ../shared/datasets/squad2-dev-split/squad2-open.json \
    /work/shared/datasets/squad2-dev-split/squad2-open.json; do
  if [ -n "$candidate" ] && [ -f "$candidate" ]; then SQUAD="$candidate"; break; fi
done
if [ -n "$SQUAD" ]; then
  .venv/bin/bot eval "$SQUAD" --limit 300 --seed 0 \
    --thresholds evals/thresholds.toml --out test-artifacts/eval-squad
else
  echo "squad2-open.json not found (set BOT_EVAL_SQUAD): sampled SQuAD eval skipped" >&2
fi
