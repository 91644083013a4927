#!/usr/bin/env bash
# Shadow mode: replay the parity recordings and the sample events, with a few answers altered on purpose,
# and check the report shows exactly the expected mismatches and that no replay wrote a row.
# Skipped when the parity data is not next to the project.
set -euo pipefail
cd "$(dirname "$0")/../.."

PARITY_DIR=${PARITY_DIR:-../shared/parity}
if [[ ! -d "$PARITY_DIR/golden" ]]; then
  echo "40-shadow: no parity data at $PARITY_DIR; replay sample skipped"
  exit 0
fi
make --no-print-directory replay-sample PARITY_DIR="$PARITY_DIR"
