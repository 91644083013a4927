#!/usr/bin/env bash
# The deployable bundle: the template validates, the x86_64 build runs every sample event with its
# expected status on the demo database, and the arm64 layer holds only aarch64 binaries.
# Needs .venv (made by .ci/run); installs the SAM CLI into .venv-sam when it is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."

export SAM_CLI_TELEMETRY=0
BUNDLE_MAKE=(make --no-print-directory)
PGDATA_PID=.local/pgdata/postmaster.pid

if [[ ! -x .venv/bin/python ]]; then
  echo "30-bundle: .venv/bin/python is missing (.ci/run creates it)" >&2
  exit 1
fi

LOG=$(mktemp)

# Run a command, timing it; its output is shown only when it fails (sam build is verbose).
quiet() {
  local label=$1
  shift
  local started=$SECONDS
  if ! "$@" >"$LOG" 2>&1; then
    cat "$LOG"
    echo "30-bundle: $label failed" >&2
    return 1
  fi
  echo "30-bundle: $label took $((SECONDS - started)) s"
}

# The demo's embedded PostgreSQL outlives tools.invoke; stop it afterwards if this step started it.
STOP_DEMO_DB=false
[[ -e "$PGDATA_PID" ]] || STOP_DEMO_DB=true
trap 'rm -f "$LOG"; if $STOP_DEMO_DB; then .venv/bin/python -m tools.demo --stop >/dev/null 2>&1 || true; fi' EXIT

quiet "SAM CLI install" "${BUNDLE_MAKE[@]}" sam-venv
.venv-sam/bin/sam --version
quiet "sam validate --lint" "${BUNDLE_MAKE[@]}" validate
quiet "sam build (x86_64)" "${BUNDLE_MAKE[@]}" build ARCH=x86_64
quiet "layer architecture check (x86_64)" "${BUNDLE_MAKE[@]}" check-layer
quiet "sam build of the arm64 layer + architecture check" "${BUNDLE_MAKE[@]}" build-layer-arm64
"${BUNDLE_MAKE[@]}" bundle-sizes
# Last, so its closing 'N passed, N failed' line ends the step.
started=$SECONDS
.venv/bin/python -m tools.invoke --check
echo "30-bundle: sample events on the built bundle took $((SECONDS - started)) s"
