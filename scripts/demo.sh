#!/usr/bin/env bash
# The README's quick start: a real registry on loopback, a signed and an unsigned image, and
# `shipgate check` on both: the signed one passes (exit 0), the unsigned one fails (exit 1).
#   - installs Debian's docker-registry if missing (apt-get: root or sudo)
#   - builds `shipgate` and `examples/seed_demo.rs` (debug), unless SHIPGATE_BIN / SEED_DEMO_BIN
#     name binaries to use
#   - starts docker-registry on a free 127.0.0.1 port, storage in a temporary directory
#   - seeds it (demo/app:signed, cosign-style key signature; demo/app:unsigned) and writes
#     release.pub and policy.yaml; everything is removed on exit
# Exits 0 only if the signed image passed and the unsigned one then failed.
# Usage: ./scripts/demo.sh   (from anywhere; needs Debian/Ubuntu, Rust, Python 3, curl)
set -euo pipefail
# Binaries given by the caller, relative to where it was called from.
shipgate=${SHIPGATE_BIN:+$(realpath "$SHIPGATE_BIN")}
seed=${SEED_DEMO_BIN:+$(realpath "$SEED_DEMO_BIN")}
cd "$(dirname "$0")/.."

if ! command -v docker-registry >/dev/null 2>&1 && [ ! -x /usr/bin/docker-registry ]; then
  echo "demo.sh: installing docker-registry" >&2
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq docker-registry >/dev/null
fi
registry_bin=$(command -v docker-registry || echo /usr/bin/docker-registry)

if [ -z "$shipgate" ] || [ -z "$seed" ]; then
  echo "demo.sh: building shipgate and examples/seed_demo.rs" >&2
  cargo build --quiet --bin shipgate --example seed_demo
  shipgate=${shipgate:-$PWD/target/debug/shipgate}
  seed=${seed:-$PWD/target/debug/examples/seed_demo}
fi

# Loopback must never go through a proxy.
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"

work=$(mktemp -d)
registry_pid=
cleanup() {
  if [ -n "$registry_pid" ]; then
    kill "$registry_pid" 2>/dev/null || true
    wait "$registry_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
reg=
for _attempt in 1 2 3 4 5; do
  reg="127.0.0.1:$(free_port)"
  cat >"$work/registry.yml" <<YAML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $work/data}}
http: {addr: $reg}
YAML
  "$registry_bin" serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
  registry_pid=$!
  for _ in $(seq 100); do
    curl -sf "http://$reg/v2/" >/dev/null 2>&1 && break 2
    kill -0 "$registry_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill "$registry_pid" 2>/dev/null || true
  wait "$registry_pid" 2>/dev/null || true
  registry_pid=
done
if [ -z "$registry_pid" ]; then
  echo "demo.sh: docker-registry did not start:" >&2
  cat "$work/registry.log" >&2
  exit 1
fi
echo "registry: http://$reg (Debian's docker-registry, storage in a temporary directory)"

"$seed" "http://$reg" "$work"
echo
echo "\$ cat policy.yaml"
cat "$work/policy.yaml"

# Run from the seeded directory, so that the commands shown are the ones a reader would type.
check() {
  local image=$1 status=0
  echo
  echo "\$ shipgate check $image --policy policy.yaml --insecure-registry $reg"
  (cd "$work" && "$shipgate" check "$image" --policy policy.yaml --insecure-registry "$reg") || status=$?
  echo "(exit $status)"
  return "$status"
}
signed=0 unsigned=0
check "$reg/demo/app:signed" || signed=$?
check "$reg/demo/app:unsigned" || unsigned=$?

echo
if [ "$signed" -eq 0 ] && [ "$unsigned" -eq 1 ]; then
  echo "demo: ok (signed: pass, exit 0; unsigned: fail, exit 1)"
else
  echo "demo: unexpected (signed: exit $signed, want 0; unsigned: exit $unsigned, want 1)" >&2
  exit 1
fi
