#!/usr/bin/env bash
# Sizes of what ships: the stripped `shipgate` binary and the `shipgate-lambda` zip (bootstrap
# alone at the zip's root, as `cargo lambda build --output-format zip` packs it), from a release
# build of this checkout on this machine's target (x86_64 here; the release workflow builds
# static musl binaries and arm64 zips the same way).
#   scripts/sizes.sh        # builds first (cargo build --release), then prints bytes
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${SKIP_BUILD:-0}" = 1 ] || cargo build --release --quiet --workspace --bins
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp target/release/shipgate-lambda "$work/bootstrap"
(cd "$work" && python3 -c 'import zipfile; z = zipfile.ZipFile("lambda.zip", "w", zipfile.ZIP_DEFLATED, compresslevel=9); z.write("bootstrap"); z.close()')
printf 'shipgate (stripped)       %10d bytes\n' "$(stat -c %s target/release/shipgate)"
printf 'shipgate-lambda           %10d bytes\n' "$(stat -c %s target/release/shipgate-lambda)"
printf 'shipgate-lambda zip       %10d bytes\n' "$(stat -c %s "$work/lambda.zip")"
