#!/usr/bin/env bash
# Parity: replay the recorded reference scenarios against the handler, as API Gateway and as ALB events.
# Any mismatch fails CI. Skipped when the parity data is not next to the project.
# The rate-limit scenario needs a Redis for its counters: the local one when it answers, else a throwaway
# redis-server on a spare port when the binary exists, else that one scenario is left out (said loudly).
set -euo pipefail
cd "$(dirname "$0")/../.."

PARITY_DIR=${PARITY_DIR:-../shared/parity}
if [[ ! -f "$PARITY_DIR/check.py" ]]; then
  echo "10-parity: no parity checker at $PARITY_DIR; skipped"
  exit 0
fi

redis_up() { .venv/bin/python -c "import socket,sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 1).close()" "$1" 2>/dev/null; }

started_redis=""
if redis_up 6379; then
  export PARITY_REDIS_URL=redis://127.0.0.1:6379/15
elif command -v redis-server >/dev/null; then
  redis-server --port 6391 --bind 127.0.0.1 --save "" --appendonly no --daemonize yes --logfile /dev/null
  started_redis=6391
  trap 'redis-cli -p 6391 shutdown nosave >/dev/null 2>&1 || true' EXIT
  for _ in $(seq 50); do redis_up 6391 && break; sleep 0.1; done
  export PARITY_REDIS_URL=redis://127.0.0.1:6391/15
fi

args=(--project . --event-shape both)
# PARITY_FAMILY narrows the run to one route family (v2, embed or ceramic-cache); by default every family runs.
if [[ -n "${PARITY_FAMILY:-}" ]]; then
  args+=(--only-family "$PARITY_FAMILY")
fi
if [[ -z "${PARITY_REDIS_URL:-}" ]]; then
  echo "10-parity: WARNING no Redis available; the rate-limit scenario is left out"
  mapfile -t scenarios < <(.venv/bin/python "$PARITY_DIR/make_fixtures.py" list | cut -d: -f1 | grep -vx ratelimit_exceeded)
  args+=(--only "${scenarios[@]}")
fi
.venv/bin/python -m tools.localdb exec -- .venv/bin/python "$PARITY_DIR/check.py" "${args[@]}"
