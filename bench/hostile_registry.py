#!/usr/bin/env python3
"""A hostile OCI registry on loopback for bench/fault.sh (standard library only).

The first path segment of the repository picks the fault, for every request under it
(`/v2/<mode>/<name>/...`):

  slow          200 headers, then drips the body one byte per second (never finishes in time)
  silent        accepts and reads the request, then never answers (holds the socket)
  reset         reads the request, then resets the connection (RST via SO_LINGER 0)
  r429          429 Too Many Requests, Retry-After: 1
  r5xx          alternates 500 and 503
  redirect      307 to the canary listener on another loopback port (no policy names it)
  redirect0     307 to http://0.0.0.0:<canary>/ (the unspecified address reaches this host)
  token         401 with a WWW-Authenticate realm on the canary port (token-service SSRF)
  huge          a valid small image manifest for the tag, then a multi-MB `.sig` manifest,
                multi-MB referrer pages with a Link to the next one, multi-MB blobs

`/v2/` answers 200. The canary listener counts every request that reaches it: a gate that
only talks where a policy points reaches it 0 times. The ports and, at exit (SIGTERM), the
per-mode and canary counts are printed as JSON lines on stdout.

Usage: hostile_registry.py [--huge-mib N]
"""
import asyncio
import hashlib
import json
import signal
import socket
import struct
import sys

HUGE_MIB = 4
counts = {}
canary_hits = 0
CANARY_PORT = 0


def digest(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def image_manifest(tag):
    # One digest per tag, so the gate's decision cache cannot answer for the next request.
    config = b"{}"
    return json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": digest(config), "size": len(config)},
        "layers": [],
        "annotations": {"tag": tag},
    }).encode()


IMAGES = {}  # digest -> manifest bytes, of the tags asked for (bounded below)


def huge_manifest():
    # A `.sig` manifest with many layers carrying large annotations: MiB of JSON.
    layer = {"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
             "digest": "sha256:" + "0" * 64, "size": 10,
             "annotations": {"dev.cosignproject.cosign/signature": "A" * 4096}}
    n = HUGE_MIB * 1024 * 1024 // 4300 + 1
    return json.dumps({"schemaVersion": 2,
                       "mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                  "digest": digest(b"{}"), "size": 2},
                       "layers": [layer] * n}).encode()


def huge_index():
    d = {"mediaType": "application/vnd.oci.image.manifest.v1+json",
         "digest": "sha256:" + "1" * 64, "size": 100,
         "artifactType": "application/vnd.example.junk",
         "annotations": {"junk": "B" * 4096}}
    n = HUGE_MIB * 1024 * 1024 // 4300 + 1
    return json.dumps({"schemaVersion": 2,
                       "mediaType": "application/vnd.oci.image.index.v1+json",
                       "manifests": [d] * n}).encode()


HUGE_MANIFEST = b""
HUGE_INDEX = b""


def response(status, headers=(), body=b""):
    reason = {200: "OK", 307: "Temporary Redirect", 401: "Unauthorized", 404: "Not Found",
              429: "Too Many Requests", 500: "Internal Server Error",
              503: "Service Unavailable"}.get(status, "X")
    head = [f"HTTP/1.1 {status} {reason}", f"Content-Length: {len(body)}", "Connection: close"]
    head += [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def read_request(reader):
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
    except Exception:
        return None, None
    line = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
    if len(line) < 2:
        return None, None
    return line[0], line[1]


async def canary(reader, writer):
    global canary_hits
    method, path = await read_request(reader)
    canary_hits += 1
    writer.write(response(200, [("Content-Type", "application/json")], b'{"token":"x"}'))
    await writer.drain()
    writer.close()


async def handle(reader, writer):
    method, path = await read_request(reader)
    if path is None:
        writer.close()
        return
    try:
        await serve(method, path, reader, writer)
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def serve(method, path, reader, writer):
    path = path.split("?", 1)[0]
    if path in ("/v2/", "/v2"):
        writer.write(response(200, [("Docker-Distribution-API-Version", "registry/2.0")]))
        await writer.drain()
        return
    parts = path.split("/")
    mode = parts[2] if len(parts) > 2 else ""
    counts[mode] = counts.get(mode, 0) + 1
    if mode == "slow":
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 1000000\r\n\r\n")
        for _ in range(600):  # at most 10 minutes, then give up
            writer.write(b" ")
            await writer.drain()
            await asyncio.sleep(1)
    elif mode == "silent":
        # Hold the connection (bounded) without a byte of answer.
        try:
            await asyncio.wait_for(reader.read(), 600)
        except asyncio.TimeoutError:
            pass
    elif mode == "reset":
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
    elif mode == "r429":
        writer.write(response(429, [("Retry-After", "1")], b'{"errors":[{"code":"TOOMANYREQUESTS"}]}'))
    elif mode == "r5xx":
        writer.write(response(500 if counts[mode] % 2 else 503))
    elif mode == "redirect":
        writer.write(response(307, [("Location", f"http://127.0.0.1:{CANARY_PORT}{path}")]))
    elif mode == "redirect0":
        writer.write(response(307, [("Location", f"http://0.0.0.0:{CANARY_PORT}{path}")]))
    elif mode == "token":
        realm = f'Bearer realm="http://127.0.0.1:{CANARY_PORT}/token",service="x",scope="repository:{mode}:pull"'
        writer.write(response(401, [("WWW-Authenticate", realm)]))
    elif mode == "huge":
        await serve_huge(method, path, writer)
    else:
        writer.write(response(404))
    await writer.drain()


async def serve_huge(method, path, writer):
    global HUGE_MANIFEST, HUGE_INDEX
    if not HUGE_MANIFEST:
        HUGE_MANIFEST, HUGE_INDEX = huge_manifest(), huge_index()
    if "/referrers/" in path:
        # Every page links to another: only the client's own bound stops it.
        body, ctype = HUGE_INDEX, "application/vnd.oci.image.index.v1+json"
        n = counts["huge"]
        link = f'<{path.split("?")[0]}?n={n}>; rel="next"'
        head = [("Content-Type", ctype), ("Docker-Content-Digest", digest(body)), ("Link", link)]
    elif "/manifests/" in path:
        ref = path.rsplit("/", 1)[1]
        if ref.endswith(".sig") or ref.endswith(".att") or ref == digest(HUGE_MANIFEST):
            body = HUGE_MANIFEST
        elif ref.startswith("sha256:"):
            body = IMAGES.get(ref)
            if body is None:
                writer.write(response(404))
                return
        else:
            body = image_manifest(ref)
            if len(IMAGES) > 100000:
                IMAGES.clear()
            IMAGES[digest(body)] = body
        ctype = "application/vnd.oci.image.manifest.v1+json"
        head = [("Content-Type", ctype), ("Docker-Content-Digest", digest(body))]
    else:  # blobs
        body = b"C" * (HUGE_MIB * 1024 * 1024)
        head = [("Content-Type", "application/octet-stream")]
    if method == "HEAD":
        # The real length, no body.
        writer.write(response(200, head).replace(b"Content-Length: 0", f"Content-Length: {len(body)}".encode()))
    else:
        writer.write(response(200, head, body))


async def main():
    global CANARY_PORT, HUGE_MIB
    if "--huge-mib" in sys.argv:
        HUGE_MIB = int(sys.argv[sys.argv.index("--huge-mib") + 1])
    can = await asyncio.start_server(canary, "127.0.0.1", 0)
    CANARY_PORT = can.sockets[0].getsockname()[1]
    srv = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=4096)
    port = srv.sockets[0].getsockname()[1]
    print(json.dumps({"port": port, "canary_port": CANARY_PORT}), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, stop.set)
    await stop.wait()
    print(json.dumps({"requests_per_mode": counts, "canary_hits": canary_hits}), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
