#!/usr/bin/env bash
# Fault run of `shipgate serve` against a hostile registry (bench/hostile_registry.py) under
# concurrent load: POST /v1/decisions for images on registries that are slow, never answer,
# reset, answer 429/5xx, redirect to another loopback port or to 0.0.0.0, point the token
# service elsewhere, or send multi-MB manifests and referrer pages; plus a key-signed image on
# a real `docker-registry` for contrast. Reports: `pass` answers for bad evidence (must be 0),
# HTTP status and decision counts per mode, requests that reached the canary (must be 0),
# peak RSS (VmHWM) and peak open fds of the shipgate process (sampled every 100 ms), and
# GET /healthz p50/p99 under the load. Stops by itself: load for DURATION seconds, then at most
# GRACE seconds for answers in flight; cleans up on exit.
#
#   bench/fault.sh                                  # release build, 30 s, 64 concurrent
#   DURATION=60 CONCURRENCY=128 bench/fault.sh
#   BIN_DIR=target/debug SKIP_BUILD=1 bench/fault.sh   # against an existing debug build
# Knobs: DURATION (30), CONCURRENCY (64), GRACE (30), GATE_TIMEOUT (--timeout, 10),
# HUGE_MIB (size of the huge pages, 4), BIN_DIR (target/release), SKIP_BUILD (0).
# Exit status 1 if any bad evidence passed or the canary was reached; the report prints anyway.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN_DIR=${BIN_DIR:-target/release}
DURATION=${DURATION:-30}
CONCURRENCY=${CONCURRENCY:-64}
GRACE=${GRACE:-30}
GATE_TIMEOUT=${GATE_TIMEOUT:-10}
HUGE_MIB=${HUGE_MIB:-4}
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
command -v docker-registry >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry >/dev/null
}
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  profile=(--release); [ "$BIN_DIR" = target/debug ] && profile=()
  cargo build "${profile[@]}" --quiet --bin shipgate --example seed_signed_image
fi

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() { # url, seconds
  for _ in $(seq $(($2 * 10))); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "$1 did not answer within $2 s" >&2; exit 2
}

# ---- a real registry with one key-signed image (the contrast: it must pass)
REG="127.0.0.1:$(free_port)"
cat >"$WORK/registry.yml" <<YAML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $WORK/data}}
http: {addr: $REG}
YAML
docker-registry serve "$WORK/registry.yml" >/dev/null 2>&1 &
PIDS+=($!)
wait_for "http://$REG/v2/" 20
mkdir -p "$WORK/policies"
DIGEST=$("$BIN_DIR/examples/seed_signed_image" "http://$REG" "$WORK/policies")

# ---- the hostile registry
python3 bench/hostile_registry.py --huge-mib "$HUGE_MIB" >"$WORK/hostile.out" &
HOSTILE_PID=$!
PIDS+=($HOSTILE_PID)
for _ in $(seq 100); do [ -s "$WORK/hostile.out" ] && break; sleep 0.1; done
read -r HP CANARY_PORT < <(python3 -c 'import json,sys; d=json.loads(open(sys.argv[1]).readline()); print(d["port"], d["canary_port"])' "$WORK/hostile.out")
HOSTILE="127.0.0.1:$HP"
# The canary is a host the configuration knows (listed as insecure, like a second local
# registry) but no policy names: a redirect or token realm must still not reach it.
CANARY="127.0.0.1:$CANARY_PORT"
# The same key authority governs the hostile registry: nothing there is signed by it.
cat >"$WORK/policies/hostile.yaml" <<YAML
name: hostile
images: ["$HOSTILE/**"]
signatures:
  authorities:
    - name: release
      keyRef: release.pub
      transparencyLog: optional
YAML

# ---- the gate
PORT=$(free_port)
"$BIN_DIR/shipgate" serve --listen "127.0.0.1:$PORT" --policies "$WORK/policies" \
  --insecure-registry "$REG" --insecure-registry "$HOSTILE" --insecure-registry "$CANARY" --timeout "$GATE_TIMEOUT" \
  >"$WORK/shipgate.log" 2>&1 &
GATE_PID=$!
PIDS+=($GATE_PID)
wait_for "http://127.0.0.1:$PORT/healthz" 30
curl -sf "http://127.0.0.1:$PORT/v1/decisions" -H content-type:application/json \
  -d "{\"image\":\"$REG/bench/app@$DIGEST\"}" | grep -q '"decision":"pass"' \
  || { echo "the seeded image did not pass: the run would prove nothing" >&2; exit 2; }

# ---- load, health probes and /proc sampling, for DURATION (+ GRACE) seconds
cat >"$WORK/drive.py" <<'PY'
import asyncio, json, os, sys, time
port, pid, duration, conc, grace = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
images = json.loads(sys.argv[6])  # [[mode, image, is_good], ...]
results = {}    # mode -> {"status:decision": count}
bad_passes = 0
health = []     # seconds, or None for no answer within 20 s
peak = {"vmhwm_kib": 0, "vmrss_kib": 0, "fds": 0}
stop_at = time.monotonic() + duration

async def http(method, path, body=b"", timeout=60.0):
    r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
    try:
        head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        w.write(head + body)
        await w.drain()
        data = await asyncio.wait_for(r.read(64 << 20), timeout)
    finally:
        w.close()
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    return status, data.split(b"\r\n\r\n", 1)[-1]

def record(mode, key):
    results.setdefault(mode, {})
    results[mode][key] = results[mode].get(key, 0) + 1

async def worker(n):
    global bad_passes
    i = n
    while time.monotonic() < stop_at:
        mode, image, good = images[i % len(images)]
        i += 1
        # A fresh tag each time, so no answer comes from the decision cache.
        if not good and "@" not in image:
            image = f"{image}:t{n}-{i}"
        body = json.dumps({"image": image}).encode()
        results_seen = []
        try:
            status, payload = await http("POST", "/v1/decisions", body)
            try:
                d = json.loads(payload)
                # The decision, and the results of its checks that did not pass (error/fail).
                results_seen = sorted({c.get("result", "?") for c in d.get("checks", []) if c.get("result") != "pass"})
                decision = d.get("decision", "-")
            except Exception:
                decision, results_seen = "non-json", []
        except (asyncio.TimeoutError, TimeoutError):
            status, decision = "client-timeout", "-"
        except OSError as e:
            status, decision = f"conn-{type(e).__name__}", "-"
        record(mode, f"{status}:{decision}" + (f" (checks {'/'.join(results_seen)})" if results_seen else ""))
        if decision == "pass" and not good:
            bad_passes += 1

async def prober():
    while time.monotonic() < stop_at:
        t = time.monotonic()
        try:
            status, _ = await http("GET", "/healthz", timeout=20)
            health.append(time.monotonic() - t if status == 200 else None)
        except Exception:
            health.append(None)
        await asyncio.sleep(max(0, 0.1 - (time.monotonic() - t)))

async def sampler(done):
    while not done.is_set():
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    k, _, v = line.partition(":")
                    if k in ("VmHWM", "VmRSS"):
                        key = k.lower() + "_kib"
                        peak[key] = max(peak[key], int(v.split()[0]))
            peak["fds"] = max(peak["fds"], len(os.listdir(f"/proc/{pid}/fd")))
        except (FileNotFoundError, ProcessLookupError):
            peak["process_gone"] = True
            return
        await asyncio.sleep(0.1)

async def main():
    done = asyncio.Event()
    samp = asyncio.create_task(sampler(done))
    tasks = [asyncio.create_task(worker(n)) for n in range(conc)] + [asyncio.create_task(prober())]
    _, pending = await asyncio.wait(tasks, timeout=duration + grace)
    for t in pending:
        t.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    done.set()
    await samp
    ok = sorted(h for h in health if h is not None)
    pct = lambda q: round(ok[min(len(ok) - 1, int(q * len(ok)))] * 1000, 1) if ok else None
    print(json.dumps({
        "bad_evidence_passes": bad_passes,
        "requests_in_flight_at_end": len(pending) - (1 if any(t is tasks[-1] for t in pending) else 0),
        "per_mode": results,
        "peak": peak,
        "healthz": {"probes": len(health), "no_answer_20s": sum(h is None for h in health),
                    "p50_ms": pct(0.50), "p99_ms": pct(0.99), "max_ms": pct(1.0)},
    }, indent=1))

asyncio.run(main())
PY
IMAGES="[[\"good\",\"$REG/bench/app@$DIGEST\",true]"
for mode in slow silent reset r429 r5xx redirect redirect0 token huge; do
  IMAGES+=",[\"$mode\",\"$HOSTILE/$mode/app\",false]"
done
IMAGES+="]"
echo "== fault run: ${DURATION}s, $CONCURRENCY concurrent, gate --timeout $GATE_TIMEOUT, huge pages ${HUGE_MIB} MiB ($BIN_DIR/shipgate)"
python3 "$WORK/drive.py" "$PORT" "$GATE_PID" "$DURATION" "$CONCURRENCY" "$GRACE" "$IMAGES" | tee "$WORK/report.json"
kill -0 "$GATE_PID" 2>/dev/null || echo "shipgate exited during the run (see its log)" >&2
kill "$HOSTILE_PID"
wait "$HOSTILE_PID" 2>/dev/null || true
echo "== hostile registry"
tail -n 1 "$WORK/hostile.out"
python3 - "$WORK/report.json" "$WORK/hostile.out" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
h = json.loads(open(sys.argv[2]).read().strip().splitlines()[-1])
print(f"== summary: bad-evidence passes {r['bad_evidence_passes']} (must be 0), "
      f"canary hits {h['canary_hits']} (must be 0), peak RSS {r['peak']['vmhwm_kib'] / 1024:.0f} MiB, "
      f"peak fds {r['peak']['fds']}, /healthz p50 {r['healthz']['p50_ms']} ms p99 {r['healthz']['p99_ms']} ms "
      f"({r['healthz']['no_answer_20s']} of {r['healthz']['probes']} probes unanswered)")
sys.exit(1 if r["bad_evidence_passes"] or h["canary_hits"] else 0)
PY
