#!/usr/bin/env bash
# Runs every fuzz target, one after the other, for a bounded time each, on the stable toolchain
# (RUSTC_BOOTSTRAP=1 lets stable accept the -Z flags cargo-fuzz passes). Needs
# `cargo install cargo-fuzz --locked`. Not part of CI.
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]   (default 60 s, every target)
# Prints one summary line per target (executions, coverage, crash or not); each target's full
# libFuzzer log is kept in fuzz/logs/<target>.log. Exits 1 if any target found a crash.
set -euo pipefail
secs="${1:-60}"
shift || true
cd "$(dirname "$0")/.."
targets=("$@")
mkdir -p fuzz/logs
# Build first, so the timed runs measure fuzzing, not compiling.
if [ ${#targets[@]} -eq 0 ]; then
  targets=(bundle trusted_root rfc3161 rekor_body checkpoint certificate dsse oci_manifest notation_envelope)
  RUSTC_BOOTSTRAP=1 cargo fuzz build
else
  for target in "${targets[@]}"; do RUSTC_BOOTSTRAP=1 cargo fuzz build "$target"; done
fi
failed=0
summary=()
for target in "${targets[@]}"; do
  # A scratch corpus dir first, so new inputs land in fuzz/corpus/<target>, not in the seeds.
  mkdir -p "fuzz/corpus/$target" "fuzz/seeds/$target"
  log="fuzz/logs/$target.log"
  # -rss_limit_mb: a parser that allocates without bound is a finding, not a slow machine.
  if RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" "fuzz/corpus/$target" "fuzz/seeds/$target" \
    -- -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 >"$log" 2>&1; then
    verdict=ok
  else
    verdict="CRASH (see $log and fuzz/artifacts/$target/)"
    failed=1
  fi
  done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true)
  [ -n "$done_line" ] || done_line=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
  execs=$(sed -nE 's/^Done ([0-9]+) runs in ([0-9]+) second.*/\1 execs in \2 s/p' "$log" | tail -n 1)
  cov=$(sed -nE 's/.*cov: ([0-9]+) ft: ([0-9]+) corp: ([0-9]+)\/([^ ]+).*/cov \1, ft \2, corpus \3 (\4)/p' <<<"$done_line")
  summary+=("$(printf '%-13s %-26s %-40s %s' "$target" "${execs:-?}" "${cov:-?}" "$verdict")")
done
printf '%s\n' "${summary[@]}"
exit "$failed"
