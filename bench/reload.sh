#!/usr/bin/env bash
# Load run of `shipgate serve` while it reloads: POST /v1/decisions for a cached digest (wrk,
# 2 threads, 32 connections, 10 s), first with no reload (the baseline), then in the same run
# with a SIGHUP every 200 ms. Each reload builds a new gate with an empty decision cache, so
# after each one the digest is evaluated again (registry + verification). Prints both wrk
# reports, the reloads that happened and the failed ones; any non-2xx response is a failure.
source "$(dirname "$0")/common.sh"
PORT=$(free_port)
cat > "$WORK/serve.yaml" <<YAML
listen: 127.0.0.1:$PORT
policies: [$WORK/policy.yaml]
insecureRegistries: ["$REG"]
reload: {watchSeconds: 0}
YAML
target/release/shipgate serve --config "$WORK/serve.yaml" 2>/dev/null &
SERVE=$!
PIDS+=($SERVE)
prepare_post "$PORT"
D=${DURATION:-10s}
echo "== POST /v1/decisions, no reload (baseline)"
wrk -t2 -c32 -d"$D" --latency -s "$WORK/post.lua" "http://127.0.0.1:$PORT/v1/decisions"
echo "== POST /v1/decisions, SIGHUP every 200 ms"
( while kill -0 "$SERVE" 2>/dev/null; do kill -HUP "$SERVE"; sleep 0.2; done ) &
HUPPER=$!
PIDS+=($HUPPER)
wrk -t2 -c32 -d"$D" --latency -s "$WORK/post.lua" "http://127.0.0.1:$PORT/v1/decisions"
kill "$HUPPER" 2>/dev/null || true
sleep 1
echo "== reloads"
curl -s "http://127.0.0.1:$PORT/readyz" | python3 -c 'import json,sys; r=json.load(sys.stdin)["reload"]; print("generation", r["generation"], "successes", r["successes"], "failures", r["failures"])'
curl -s "http://127.0.0.1:$PORT/metrics" | grep -E '^shipgate_(reloads_total|decision_cache)' || true
