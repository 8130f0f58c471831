# Shared by the benchmark scripts: a release build, a real registry on a free loopback port
# seeded with one key-signed image. Sourced, not run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
for tool in docker-registry wrk hyperfine; do
  command -v "$tool" >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry wrk hyperfine >/dev/null; break; }
done
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
cargo build --release --quiet --bin shipgate --example seed_signed_image
WORK=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
REG_PORT=$(free_port)
REG="127.0.0.1:$REG_PORT"
cat > "$WORK/registry.yml" <<YAML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $WORK/data}}
http: {addr: $REG}
YAML
docker-registry serve "$WORK/registry.yml" >/dev/null 2>&1 &
PIDS=($!)
cleanup() { kill "${PIDS[@]}" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
until curl -sf "http://$REG/v2/" >/dev/null; do sleep 0.1; done
DIGEST=$(target/release/examples/seed_signed_image "http://$REG" "$WORK")
IMAGE="$REG/bench/app@$DIGEST"

# Waits for a `shipgate serve` on 127.0.0.1:$1, checks that the seeded image passes there, and
# writes $WORK/post.lua: wrk's POST /v1/decisions for that image ($BODY).
BODY="{\"image\":\"$IMAGE\"}"
prepare_post() {
  local port=$1
  until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do sleep 0.1; done
  curl -sf "http://127.0.0.1:$port/v1/decisions" -H content-type:application/json -d "$BODY" | grep -q '"decision":"pass"' \
    || { echo "the seeded image did not pass" >&2; exit 1; }
  cat > "$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$BODY'
wrk.headers["Content-Type"] = "application/json"
LUA
}
