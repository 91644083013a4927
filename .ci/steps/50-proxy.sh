#!/usr/bin/env bash
# The integration tests (and the fault tests, when tests/faults exists) again, with the service reaching
# PostgreSQL through PgBouncer in transaction pooling mode, as it reaches RDS Proxy in AWS. .ci/run installs
# PgBouncer; without it this step fails (TEST_VIA_PROXY asks for it) instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/../.."

make --no-print-directory test-proxy
