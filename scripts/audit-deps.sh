#!/usr/bin/env bash
# Dependency audit for CI (.ci/run): fails on any high or critical advisory in package-lock.json.
# When the registry's audit endpoint does not answer (no network, or a registry or mirror that
# refuses audits: here it answers 405), the audit cannot run. That is printed as a loud warning
# and does not fail the build, since it says nothing about the dependencies (docs/hardening.md).
set -uo pipefail
cd "$(dirname "$0")/.."

report="$(mktemp)"
log="$(mktemp)"
trap 'rm -f "$report" "$log"' EXIT

npm audit --audit-level=high --json >"$report" 2>"$log"
rc=$?

# A report has metadata.vulnerabilities; a failed endpoint gives {"error": …} or nothing usable.
counts="$(node -e '
  let j; try { j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); } catch { process.exit(1); }
  const v = j && !j.error && j.metadata && j.metadata.vulnerabilities;
  if (!v) process.exit(1);
  console.log(`critical=${v.critical} high=${v.high} moderate=${v.moderate} low=${v.low}`);
' "$report")" || counts=""

if [ -z "$counts" ]; then
  {
    echo "############################################################################"
    echo "## WARNING: npm audit could not run: the registry's audit endpoint failed. ##"
    echo "## Dependencies were NOT checked for advisories. Run scripts/audit-deps.sh ##"
    echo "## where the public registry answers audits before releasing.             ##"
    echo "############################################################################"
    grep -m 3 -E 'audit|error' "$log" || true
  } >&2
  exit 0
fi

echo "npm audit: ${counts}"
if [ "$rc" -ne 0 ]; then
  echo "npm audit: high or critical advisories found; details:" >&2
  npm audit --audit-level=high >&2 || true
  exit 1
fi
echo "npm audit: no high or critical advisories"
