#!/usr/bin/env bash
# Recompile requirements/lock.txt: every dependency of the project and its dev extras, pinned
# with hashes, so a fresh machine installs exactly what CI tested. Run after changing the
# dependencies in pyproject.toml, then commit the lock.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/pip install --quiet "pip-tools>=7.4"
.venv/bin/pip-compile --quiet --generate-hashes --extra dev --strip-extras --allow-unsafe \
  --no-emit-index-url --no-emit-find-links -o requirements/lock.txt pyproject.toml
