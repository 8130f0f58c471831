#!/usr/bin/env bash
# A cold `shipgate check` of a key-signed image on a local registry, against the `sigstore`
# crate's own cosign verification of the same image (bench/sigstore-baseline/src/main.rs), both as
# whole processes, timed by hyperfine in the same run.
source "$(dirname "$0")/common.sh"
# The baseline: sigstore-rs's own cosign verification, built here only (the other runs need it not).
cargo build --release --quiet --manifest-path bench/sigstore-baseline/Cargo.toml
target/release/shipgate check "$IMAGE" --policy "$WORK/policy.yaml" --insecure-registry "$REG"
bench/sigstore-baseline/target/release/sigstore_rs_verify "$IMAGE" "$WORK/release.pub" "$REG"
hyperfine -N --warmup 3 --runs "${RUNS:-50}" --export-markdown "${OUT:-/dev/stdout}" \
  -n "shipgate check" "target/release/shipgate check $IMAGE --policy $WORK/policy.yaml --insecure-registry $REG" \
  -n "sigstore-rs cosign verify" "bench/sigstore-baseline/target/release/sigstore_rs_verify $IMAGE $WORK/release.pub $REG"
