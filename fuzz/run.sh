#!/usr/bin/env bash
# Runs both fuzz targets for a bounded time each, on the stable toolchain (RUSTC_BOOTSTRAP=1
# lets stable accept the -Z flags cargo-fuzz passes). Needs `cargo install cargo-fuzz --locked`.
#   fuzz/run.sh [SECONDS_PER_TARGET]   (default 60)
set -euo pipefail
secs="${1:-60}"
cd "$(dirname "$0")/.."
for target in bundle trusted_root; do
  # A scratch corpus dir first, so new inputs land in fuzz/corpus/<target>, not in the seeds.
  mkdir -p "fuzz/corpus/$target"
  RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" "fuzz/corpus/$target" "fuzz/seeds/$target" \
    -- -max_total_time="$secs"
done
