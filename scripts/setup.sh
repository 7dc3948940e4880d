#!/usr/bin/env bash
# Create .venv with exactly the locked dependencies (requirements/lock.txt: every package
# of the project and its dev extras pinned with hashes, the CPU build of torch among them),
# then the project itself (editable). Further extras come as arguments: `bash
# scripts/setup.sh bench` adds the benchmark's (not locked). Safe to run again: it
# reinstalls only when pyproject.toml or the lock changed or an extra is new.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv
hash=$(cat pyproject.toml requirements/lock.txt | sha256sum | cut -c1-16)
extras=(dev "$@")
missing=0
# One stamp per installed extra, so a plain run after `setup.sh bench` has nothing to do.
for extra in "${extras[@]}"; do
  [ -f ".venv/.installed-$hash-$extra" ] || missing=1
done
if [ "$missing" = 1 ]; then
  echo "setup: installing the locked dependencies into .venv (a few minutes the first time)"
  .venv/bin/pip install --quiet --upgrade pip
  # The lock pins torch to its CPU build; a looser pin pulls several GB of CUDA packages.
  .venv/bin/pip install --quiet --require-hashes -r requirements/lock.txt
  .venv/bin/pip install --quiet --no-deps -e .
  if ! .venv/bin/pip check >/dev/null; then
    .venv/bin/pip check >&2 || true
    echo "setup: requirements/lock.txt does not meet pyproject.toml; run bash scripts/lock.sh" >&2
    exit 1
  fi
  unlocked=("${extras[@]:1}")
  if [ "${#unlocked[@]}" -gt 0 ]; then
    echo "setup: adding extras ${unlocked[*]}"
    .venv/bin/pip install --quiet -e ".[$(IFS=,; echo "${unlocked[*]}")]"
  fi
  find .venv -maxdepth 1 -name '.installed-*' ! -name ".installed-$hash-*" -delete
  for extra in "${extras[@]}"; do
    touch ".venv/.installed-$hash-$extra"
  done
fi
