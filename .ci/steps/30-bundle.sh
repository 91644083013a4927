#!/usr/bin/env bash
# The deployable bundle: the template validates, the x86_64 build ships 3.12 bytecode and runs every
# sample event with its expected status and envelope under the Lambda Runtime Interface Emulator on the
# demo database (and answers the README's curl through `make serve`), and the arm64 layer holds only
# aarch64 binaries.
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
quiet "layer architecture and bytecode check (x86_64)" "${BUNDLE_MAKE[@]}" check-layer
quiet "sam build of the arm64 layer + architecture check" "${BUNDLE_MAKE[@]}" build-layer-arm64
"${BUNDLE_MAKE[@]}" bundle-sizes

# make serve: the README's curl (here in Python: curl may be missing) through the HTTP front, answered by the built function under the emulator.
started=$SECONDS
SERVE_LOG=$(mktemp)
.venv/bin/python -m tools.serve --port 9080 --emulator-port 9060 >"$SERVE_LOG" 2>&1 &
SERVE_PID=$!
status=000
for _ in $(seq 1 100); do
  status=$(.venv/bin/python - <<'EOF' || true
import urllib.error, urllib.request
request = urllib.request.Request(
    "http://127.0.0.1:9080/v2/stamps/901/score/0xd3e0a4c5b6f7081920a1b2c3d4e5f60718293a4b",
    headers={"X-API-Key": "DemoKey1.LocalDemoOnly0123456789abcdefghi"},
)
try:
    print(urllib.request.urlopen(request, timeout=30).status)
except urllib.error.HTTPError as error:
    print(error.code)
except OSError:
    print("000")
EOF
)
  [[ $status == 000 ]] || break
  sleep 0.2
done
kill "$SERVE_PID"
wait "$SERVE_PID" || true
if [[ $status != 200 ]]; then
  cat "$SERVE_LOG"
  echo "30-bundle: make serve answered $status to the README's curl" >&2
  exit 1
fi
rm -f "$SERVE_LOG"
echo "30-bundle: make serve answered 200 to the README's curl ($((SECONDS - started)) s)"

# Last, so its closing 'N passed, N failed' line ends the step.
started=$SECONDS
"${BUNDLE_MAKE[@]}" invoke-all
echo "30-bundle: sample events on the built bundle under the Lambda emulator took $((SECONDS - started)) s"
