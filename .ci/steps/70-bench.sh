#!/usr/bin/env bash
# Smoke run of the benchmark: data set, warm loop, round-trip proxy, cold starts and throughput workers all
# work end to end (every response is checked). Its timings are printed for the log, never judged here.
set -euo pipefail
cd "$(dirname "$0")/../.."

make --no-print-directory bench-quick
# The ceramic-cache routes' benchmark, a few requests per case (every response is checked).
.venv/bin/python -m bench.ceramic_cache --iterations 10 --warmup 2
