//! The accept loop: HTTP/1.1 over hyper with the bounds `axum::serve` lacks.
//!
//! Every connection is tracked with the phase it is in:
//! - `Head`: connected (or the first byte of a kept-alive request arrived), headers not complete;
//! - `Body`: headers complete, the body is being read (bounded by the body timeout: 408);
//! - `Busy`: the request is being answered (bounded by the gate's own timeout);
//! - `Idle`: kept alive, waiting for the next request.
//!
//! A reaper closes `Head` connections after the header timeout and `Idle` ones after the idle
//! timeout. hyper's own `header_read_timeout` is not used: it restarts as soon as a response is
//! written, so it would also be the keep-alive idle timeout.
//!
//! Why health checks keep answering under a slowloris flood or near the fd limit: the cap on
//! connections is below the fd limit (see `limits.rs`), and when it is reached, or `accept`
//! fails for lack of fds, the server does not refuse the newcomer — it closes the oldest
//! connection that has not finished sending its request (`Head`/`Body`) or sits idle. A client
//! that sends its whole request at once (a probe, a real caller) becomes `Busy` within
//! microseconds and is never the one evicted, while a client that holds connections open
//! without finishing requests only evicts its own. Refusing newcomers instead would let the
//! flood lock out `/healthz` for as long as the header timeout. Requests being answered are
//! never evicted; they are bounded separately (decisions in flight, the gate's timeout).

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, Request, Response, StatusCode};
use axum::Router;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};
use tower::ServiceExt;

use super::limits::ServerLimits;
use super::metrics::{ClosedConnection, Metrics};
use super::MAX_BODY_BYTES;

/// hyper's read buffer per connection: request line and headers must fit (bounded memory for
/// thousands of slow clients; JWT bearer tokens are a few KiB).
const MAX_HEADER_BUFFER_BYTES: usize = 32 * 1024;
/// How long the accept loop pauses after an `accept` error it cannot fix at once (fd
/// exhaustion with nothing to evict, …): long enough not to spin, short enough to recover.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(20);
/// Connections closed per `accept` that failed for lack of fds.
const EVICTIONS_PER_ACCEPT_FAILURE: usize = 16;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
enum Phase {
    Head = 0,
    Body = 1,
    Busy = 2,
    Idle = 3,
}

impl Phase {
    fn from_u8(v: u8) -> Phase {
        match v {
            0 => Phase::Head,
            1 => Phase::Body,
            2 => Phase::Busy,
            _ => Phase::Idle,
        }
    }

    /// A connection that is not being answered: closing it loses no work.
    fn evictable(self) -> bool {
        self != Phase::Busy
    }
}

/// What the accept loop, the reaper and the connection's own task share about a connection.
struct Tracked {
    phase: AtomicU8,
    /// When the current phase began, in milliseconds since the server started.
    since_ms: AtomicU64,
    /// Why the connection is being closed from outside (a `ClosedConnection` + 1; 0: it is not).
    closing: AtomicU8,
    close: Notify,
}

struct Registry {
    started: Instant,
    connections: Mutex<HashMap<u64, Arc<Tracked>>>,
    /// Fired when a connection is removed (shutdown waits for the last).
    removed: Notify,
    metrics: Arc<Metrics>,
}

impl Registry {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Arc<Tracked>>> {
        // A panic while holding the lock leaves a map that is still consistent.
        self.connections
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn set_phase(&self, conn: &Tracked, phase: Phase) {
        conn.phase.store(phase as u8, Ordering::Relaxed);
        conn.since_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    fn open(&self) -> usize {
        self.lock().len()
    }

    /// Asks the connection's task to drop it (which closes the socket).
    fn close(&self, conn: &Tracked, why: ClosedConnection) {
        if conn
            .closing
            .compare_exchange(0, why as u8 + 1, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            self.metrics.record_closed_connection(why);
            conn.close.notify_one();
        }
    }

    /// Closes the evictable connection whose phase began first; false if there is none.
    fn evict_oldest(&self) -> bool {
        let oldest = self
            .lock()
            .values()
            .filter(|c| {
                Phase::from_u8(c.phase.load(Ordering::Relaxed)).evictable()
                    && c.closing.load(Ordering::Relaxed) == 0
            })
            .min_by_key(|c| c.since_ms.load(Ordering::Relaxed))
            .cloned();
        match oldest {
            Some(conn) => {
                self.close(&conn, ClosedConnection::Evicted);
                true
            }
            None => false,
        }
    }

    /// Closes connections that overstayed their phase's timeout.
    fn reap(&self, limits: &ServerLimits) {
        let now = self.now_ms();
        let header_ms = millis(limits.header_timeout);
        let idle_ms = millis(limits.idle_timeout);
        let expired: Vec<(Arc<Tracked>, ClosedConnection)> = self
            .lock()
            .values()
            .filter_map(|c| {
                let age = now.saturating_sub(c.since_ms.load(Ordering::Relaxed));
                match Phase::from_u8(c.phase.load(Ordering::Relaxed)) {
                    Phase::Head if age >= header_ms => {
                        Some((c.clone(), ClosedConnection::HeaderTimeout))
                    }
                    Phase::Idle if age >= idle_ms => {
                        Some((c.clone(), ClosedConnection::IdleTimeout))
                    }
                    // `Body` is timed by the request itself (it answers 408); `Busy` by the gate.
                    _ => None,
                }
            })
            .collect();
        for (conn, why) in expired {
            self.close(&conn, why);
        }
    }

    /// On shutdown: connections that are not being answered are closed at once.
    fn close_evictable(&self) {
        let all: Vec<Arc<Tracked>> = self.lock().values().cloned().collect();
        for conn in all {
            if Phase::from_u8(conn.phase.load(Ordering::Relaxed)).evictable() {
                self.close(&conn, ClosedConnection::Shutdown);
            }
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Removes the connection from the registry however its task ends.
struct Registration {
    registry: Arc<Registry>,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let open = {
            let mut map = self.registry.lock();
            map.remove(&self.id);
            map.len()
        };
        self.registry.metrics.set_open_connections(open);
        self.registry.removed.notify_waiters();
    }
}

/// The socket, noting when the first byte of a kept-alive connection's next request arrives
/// (that starts its header timeout; until then it is idle).
struct TrackedStream {
    stream: TcpStream,
    conn: Arc<Tracked>,
    registry: Arc<Registry>,
}

impl AsyncRead for TrackedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        let result = Pin::new(&mut this.stream).poll_read(cx, buf);
        if buf.filled().len() > before
            && Phase::from_u8(this.conn.phase.load(Ordering::Relaxed)) == Phase::Idle
        {
            this.registry.set_phase(&this.conn, Phase::Head);
        }
        result
    }
}

impl AsyncWrite for TrackedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then stops accepting, closes the
/// connections that are not being answered and waits for the requests in flight.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServerLimits,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let registry = Arc::new(Registry {
        started: Instant::now(),
        connections: Mutex::new(HashMap::new()),
        removed: Notify::new(),
        metrics: metrics.clone(),
    });
    let limits = Arc::new(limits);
    let (stop_tx, stop_rx) = watch::channel(false);

    // One reaper for all connections: one timer instead of one per connection.
    let reaper = {
        let registry = registry.clone();
        let limits = limits.clone();
        let tick = (limits.header_timeout.min(limits.idle_timeout) / 10)
            .clamp(Duration::from_millis(20), Duration::from_secs(1));
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(tick);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                registry.reap(&limits);
            }
        })
    };

    let mut http = hyper::server::conn::http1::Builder::new();
    http.keep_alive(true)
        .max_buf_size(MAX_HEADER_BUFFER_BYTES)
        // Timed by the reaper instead (see the module docs).
        .header_read_timeout(None);
    let http = Arc::new(http);

    tokio::pin!(shutdown);
    let mut next_id: u64 = 0;
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => stream,
            Err(e) => {
                handle_accept_error(&e, &registry).await;
                continue;
            }
        };
        // At the cap: make room by closing an unfinished or idle connection; if every
        // connection is being answered, the newcomer is closed (dropped) instead.
        if registry.open() >= limits.max_connections && !registry.evict_oldest() {
            metrics.record_closed_connection(ClosedConnection::RefusedAtCap);
            drop(stream);
            continue;
        }
        let _ = stream.set_nodelay(true);
        next_id = next_id.wrapping_add(1);
        let conn = Arc::new(Tracked {
            phase: AtomicU8::new(Phase::Head as u8),
            since_ms: AtomicU64::new(registry.now_ms()),
            closing: AtomicU8::new(0),
            close: Notify::new(),
        });
        let open = {
            let mut map = registry.lock();
            map.insert(next_id, conn.clone());
            map.len()
        };
        metrics.set_open_connections(open);
        let registration = Registration {
            registry: registry.clone(),
            id: next_id,
        };
        tokio::spawn(serve_connection(
            stream,
            conn,
            registration,
            router.clone(),
            http.clone(),
            limits.clone(),
            stop_rx.clone(),
        ));
    }

    drop(listener);
    let _ = stop_tx.send(true);
    registry.close_evictable();
    // Wait for the requests in flight; `notified` is armed before the check so that the last
    // removal cannot slip between them.
    loop {
        let removed = registry.removed.notified();
        if registry.open() == 0 {
            break;
        }
        removed.await;
    }
    reaper.abort();
    Ok(())
}

/// `accept` failed. Out of fds (EMFILE/ENFILE, or the kernel's buffers): close a few of the
/// oldest unfinished or idle connections so that the next `accept`s succeed (a health probe may
/// be queued in the backlog behind hundreds of slow clients; one eviction per pause would reach
/// it only after seconds). Then pause briefly: the pending connection stays in the backlog, and
/// retrying at once would spin while nothing has been freed.
async fn handle_accept_error(e: &io::Error, registry: &Registry) {
    match e.kind() {
        // The peer gave up before we accepted: nothing to do.
        io::ErrorKind::ConnectionAborted
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::Interrupted => return,
        _ => {}
    }
    // EMFILE (24), ENFILE (23), ENOBUFS (105 on Linux), ENOMEM (12).
    let out_of_resources = matches!(e.raw_os_error(), Some(23 | 24 | 12 | 105));
    let mut evicted = 0;
    if out_of_resources {
        registry.metrics.record_accept_exhausted();
        while evicted < EVICTIONS_PER_ACCEPT_FAILURE && registry.evict_oldest() {
            evicted += 1;
        }
        tracing::debug!(error = %e, evicted, "accept: out of fds; closed slow or idle connections");
    } else {
        tracing::warn!(error = %e, "accept failed; pausing briefly");
    }
    // Evicted connections free their fds as soon as their tasks run: a short pause is enough.
    let pause = if evicted > 0 {
        Duration::from_millis(1)
    } else {
        ACCEPT_ERROR_PAUSE
    };
    tokio::time::sleep(pause).await;
}

async fn serve_connection(
    stream: TcpStream,
    conn: Arc<Tracked>,
    registration: Registration,
    router: Router,
    http: Arc<hyper::server::conn::http1::Builder>,
    limits: Arc<ServerLimits>,
    mut stop: watch::Receiver<bool>,
) {
    let registry = registration.registry.clone();
    let io = TokioIo::new(TrackedStream {
        stream,
        conn: conn.clone(),
        registry: registry.clone(),
    });
    let service = {
        let conn = conn.clone();
        let registry = registry.clone();
        hyper::service::service_fn(move |request: Request<Incoming>| {
            answer(
                request,
                router.clone(),
                conn.clone(),
                registry.clone(),
                limits.body_timeout,
            )
        })
    };
    let connection = http.serve_connection(io, service);
    tokio::pin!(connection);
    let mut stopping = *stop.borrow();
    if stopping {
        connection.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                break;
            }
            // Dropping the connection closes the socket (and the request, if any).
            () = conn.close.notified() => break,
            changed = stop.changed(), if !stopping => {
                stopping = true;
                if changed.is_ok() {
                    // Finishes the request in flight, then closes.
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
    }
    drop(registration);
}

/// Reads the body within the body timeout (and at most one byte past the limit, so that the
/// router answers 413 as before), then lets the router answer.
async fn answer(
    request: Request<Incoming>,
    router: Router,
    conn: Arc<Tracked>,
    registry: Arc<Registry>,
    body_timeout: Duration,
) -> Result<Response<Body>, Infallible> {
    registry.set_phase(&conn, Phase::Body);
    let (parts, body) = request.into_parts();
    let read = tokio::time::timeout(body_timeout, read_body(Body::new(body))).await;
    let body = match read {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(e)) => {
            registry.set_phase(&conn, Phase::Idle);
            return Ok(refusal(
                StatusCode::BAD_REQUEST,
                format!("the request body could not be read: {e}"),
            ));
        }
        Err(_) => {
            registry
                .metrics
                .record_closed_connection(ClosedConnection::BodyTimeout);
            registry.set_phase(&conn, Phase::Idle);
            return Ok(refusal(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the request body did not arrive within {} s; send it at once",
                    body_timeout.as_secs()
                ),
            ));
        }
    };
    registry.set_phase(&conn, Phase::Busy);
    let response = router
        .oneshot(Request::from_parts(parts, Body::from(body)))
        .await;
    registry.set_phase(&conn, Phase::Idle);
    response
}

async fn read_body(body: Body) -> Result<Bytes, axum::Error> {
    let mut stream = body.into_data_stream();
    let mut collected = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        let room = MAX_BODY_BYTES + 1 - collected.len();
        if chunk.len() >= room {
            // Past the limit: what was read is enough for the router to refuse it (413);
            // the rest is never read, and hyper closes the connection after the answer.
            collected.extend_from_slice(&chunk[..room]);
            break;
        }
        collected.extend_from_slice(&chunk);
    }
    Ok(collected.freeze())
}

/// An answer given before the router (408, 400), in the API's error shape; the connection is
/// closed after it, since the rest of the request was not read.
fn refusal(status: StatusCode, message: String) -> Response<Body> {
    let mut response = Response::new(Body::from(json!({ "error": message }).to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response.headers_mut().insert(
        header::CONNECTION,
        header::HeaderValue::from_static("close"),
    );
    response
}
