#!/usr/bin/env bash
# Load run of `shipgate serve`: POST /v1/decisions for a cached digest, beside GET /healthz of
# the same server in the same run (wrk, 2 threads, 32 connections, 10 s each on this machine);
# then the same POST on a second server with caller authentication: a static token, and an
# RS256 JWT from a loopback OIDC issuer (examples/bench_oidc_issuer.rs; keys cached by kid).
source "$(dirname "$0")/common.sh"
PORT=$(free_port)
target/release/shipgate serve --listen "127.0.0.1:$PORT" --policies "$WORK/policy.yaml" \
  --insecure-registry "$REG" 2>/dev/null &
PIDS+=($!)
prepare_post "$PORT"
D=${DURATION:-10s}
echo "== GET /healthz"
wrk -t2 -c32 -d"$D" --latency "http://127.0.0.1:$PORT/healthz"
echo "== POST /v1/decisions (cached digest)"
wrk -t2 -c32 -d"$D" --latency -s "$WORK/post.lua" "http://127.0.0.1:$PORT/v1/decisions"

# ---- with caller authentication
cargo build --release --quiet --example bench_oidc_issuer
# The issuer serves until its stdin closes: a fifo this script holds open.
mkfifo "$WORK/issuer.in"
target/release/examples/bench_oidc_issuer shipgate <"$WORK/issuer.in" >"$WORK/issuer.out" &
PIDS+=($!)
exec 3>"$WORK/issuer.in"
until [ -s "$WORK/issuer.out" ]; do sleep 0.1; done
read -r ISSUER_URL JWT <"$WORK/issuer.out"
STATIC=sg-bench-static-token-0123456789
APORT=$(free_port)
cat > "$WORK/auth.yaml" <<YAML
listen: 127.0.0.1:$APORT
policies: [$WORK/policy.yaml]
insecureRegistries: ["$REG"]
auth:
  oidc:
    - issuer: $ISSUER_URL
      audience: shipgate
      claims: {repository_owner: acme}
  tokens:
    - name: bench
      sha256: "$(printf %s "$STATIC" | sha256sum | cut -d' ' -f1)"
YAML
target/release/shipgate serve --config "$WORK/auth.yaml" 2>/dev/null &
PIDS+=($!)
until curl -sf "http://127.0.0.1:$APORT/healthz" >/dev/null; do sleep 0.1; done
for t in "$STATIC" "$JWT"; do
  curl -sf "http://127.0.0.1:$APORT/v1/decisions" -H content-type:application/json \
    -H "authorization: Bearer $t" -d "$BODY" | grep -q '"decision":"pass"' \
    || { echo "an authenticated request did not pass" >&2; exit 1; }
done
for kind in static jwt; do
  t=$STATIC; [ "$kind" = jwt ] && t=$JWT
  cat > "$WORK/post-$kind.lua" <<LUA
wrk.method = "POST"
wrk.body = '$BODY'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $t"
LUA
done
echo "== GET /healthz (authenticated server)"
wrk -t2 -c32 -d"$D" --latency "http://127.0.0.1:$APORT/healthz"
echo "== POST /v1/decisions (cached digest, static token)"
wrk -t2 -c32 -d"$D" --latency -s "$WORK/post-static.lua" "http://127.0.0.1:$APORT/v1/decisions"
echo "== POST /v1/decisions (cached digest, RS256 JWT)"
wrk -t2 -c32 -d"$D" --latency -s "$WORK/post-jwt.lua" "http://127.0.0.1:$APORT/v1/decisions"
