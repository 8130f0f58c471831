#!/usr/bin/env bash
# Load run of `shipgate serve`: POST /v1/decisions for a cached digest, beside GET /healthz of
# the same server in the same run (wrk, 2 threads, 32 connections, 10 s each on this machine).
source "$(dirname "$0")/common.sh"
PORT=$(free_port)
target/release/shipgate serve --listen "127.0.0.1:$PORT" --policies "$WORK/policy.yaml" \
  --insecure-registry "$REG" 2>/dev/null &
PIDS+=($!)
until curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null; do sleep 0.1; done
BODY="{\"image\":\"$IMAGE\"}"
curl -sf "http://127.0.0.1:$PORT/v1/decisions" -H content-type:application/json -d "$BODY" | grep -q '"decision":"pass"' \
  || { echo "the seeded image did not pass" >&2; exit 1; }
cat > "$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$BODY'
wrk.headers["Content-Type"] = "application/json"
LUA
D=${DURATION:-10s}
echo "== GET /healthz"
wrk -t2 -c32 -d"$D" --latency "http://127.0.0.1:$PORT/healthz"
echo "== POST /v1/decisions (cached digest)"
wrk -t2 -c32 -d"$D" --latency -s "$WORK/post.lua" "http://127.0.0.1:$PORT/v1/decisions"
