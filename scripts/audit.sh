#!/usr/bin/env bash
# Audit the exact dependency versions of this build (requirements/lock.txt, which
# scripts/setup.sh installs) for known vulnerabilities with pip-audit. The list audited and
# the findings are kept in test-artifacts/.
# Findings fail the build unless their id is listed, with a reason, in .pip-audit-ignore.
# When the advisory service cannot be reached the audit is reported as not done; set
# BOT_AUDIT_REQUIRED=1 to make that a failure too.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p test-artifacts
# Local version labels (torch 2.13.0+cpu) are not on the advisory service: audit the release.
grep -E '^[A-Za-z0-9._-]+==' requirements/lock.txt | sed -E 's/[ \\]+$//; s/\+[^ ]*$//' \
  > test-artifacts/requirements.lock
status=0
.venv/bin/pip-audit -r test-artifacts/requirements.lock --no-deps --disable-pip \
  --progress-spinner off --format json -o test-artifacts/pip-audit.json \
  2> test-artifacts/pip-audit.log || status=$?
.venv/bin/python - "$status" <<'EOF'
import json, os, sys
from pathlib import Path

status = int(sys.argv[1])
ignore_file = Path(".pip-audit-ignore")
ignored = {
    line.split("#", 1)[0].strip()
    for line in (ignore_file.read_text().splitlines() if ignore_file.exists() else [])
} - {""}
try:
    report = json.loads(Path("test-artifacts/pip-audit.json").read_text())
except (OSError, ValueError):
    print(Path("test-artifacts/pip-audit.log").read_text()[-2000:], file=sys.stderr)
    sys.exit(f"pip-audit failed (exit {status}) without a report")
deps = report.get("dependencies", [])
skipped = [d for d in deps if "skip_reason" in d]
audited = len(deps) - len(skipped)
findings = [
    (d["name"], d["version"], v["id"], ", ".join(v.get("fix_versions", [])) or "no fix yet")
    for d in deps for v in d.get("vulns", [])
    if v["id"] not in ignored and not ignored & set(v.get("aliases", []))
]
for name, version, vid, fix in findings:
    print(f"VULNERABLE {name} {version}: {vid} (fixed in {fix})", file=sys.stderr)
print(f"pip-audit: {audited} of {len(deps)} locked packages audited, "
      f"{len(findings)} unresolved finding(s), {len(ignored)} recorded exception(s)")
if findings:
    sys.exit(1)
if deps and audited == 0:
    print("pip-audit: the advisory service (PyPI JSON API) could not be reached from here, "
          "so nothing was audited; see test-artifacts/pip-audit.log", file=sys.stderr)
    if os.environ.get("BOT_AUDIT_REQUIRED") == "1":
        sys.exit(1)
EOF
