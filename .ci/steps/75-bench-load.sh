#!/usr/bin/env bash
# Smoke run of the load benchmark: a few Lambda environments per mode (PgBouncer transaction and session
# pooling, a connection per request, direct), warm and as a cold burst. It fails when a request went
# unanswered or a server connection kept session state; its timings are printed, never judged here.
set -euo pipefail
cd "$(dirname "$0")/../.."

make --no-print-directory bench-load-quick
