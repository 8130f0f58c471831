//! What the HTTP server bounds: how long a client may take to send a request, how many
//! connections it may hold, how many decisions may run at once.

use std::time::Duration;

use crate::config::LimitsConfig;

/// Never more connections than this, whatever the fd limit allows.
const DEFAULT_MAX_CONNECTIONS: usize = 4096;
/// File descriptors kept free of client connections, at least: the listener, the runtime,
/// log output, and the gate's outbound registry, Rekor and OIDC connections need them.
const MIN_FD_RESERVE: usize = 64;
/// The fewest connections the fd-derived cap goes down to (a tiny `ulimit -n` still serves).
const MIN_CONNECTIONS: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerLimits {
    /// From accept (or from the first byte of a keep-alive request) to the end of the headers.
    pub header_timeout: Duration,
    /// From the end of the headers to the end of the body.
    pub body_timeout: Duration,
    /// How long a kept-alive connection may wait for its next request.
    pub idle_timeout: Duration,
    /// Open client connections at most.
    pub max_connections: usize,
    /// `POST /v1/decisions` requests being answered at once; more get 503 at once.
    pub max_decisions_in_flight: usize,
}

impl ServerLimits {
    pub const DEFAULT_MAX_DECISIONS_IN_FLIGHT: usize = 256;
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: connection_cap(soft_fd_limit()),
            max_decisions_in_flight: ServerLimits::DEFAULT_MAX_DECISIONS_IN_FLIGHT,
        }
    }
}

impl ServerLimits {
    /// The defaults, overridden by the `limits` section of the configuration file. Zero is
    /// refused (it would disable the bound or refuse everything); a connection cap above what
    /// the process's fd limit leaves room for is lowered to it, with a warning, because past it
    /// `accept` fails and health checks are no longer answered.
    pub fn from_config(config: Option<&LimitsConfig>) -> Result<ServerLimits, String> {
        let mut limits = ServerLimits::default();
        let Some(config) = config else {
            return Ok(limits);
        };
        let seconds = |value: Option<u64>, key: &str, default: Duration| match value {
            None => Ok(default),
            Some(0) => Err(format!("limits.{key} must be at least 1")),
            Some(s) => Ok(Duration::from_secs(s)),
        };
        limits.header_timeout = seconds(
            config.header_timeout_seconds,
            "headerTimeoutSeconds",
            limits.header_timeout,
        )?;
        limits.body_timeout = seconds(
            config.body_timeout_seconds,
            "bodyTimeoutSeconds",
            limits.body_timeout,
        )?;
        limits.idle_timeout = seconds(
            config.idle_timeout_seconds,
            "idleTimeoutSeconds",
            limits.idle_timeout,
        )?;
        match config.max_connections {
            None => {}
            Some(0) => return Err("limits.maxConnections must be at least 1".into()),
            Some(n) => {
                let room = soft_fd_limit().map_or(usize::MAX, fd_room);
                if n > room {
                    tracing::warn!(
                        configured = n,
                        used = room,
                        "limits.maxConnections is more than the fd limit (ulimit -n) leaves room \
                         for; using the lower value (raise the fd limit to serve more)"
                    );
                }
                limits.max_connections = n.min(room);
            }
        }
        match config.max_decisions_in_flight {
            None => {}
            Some(0) => return Err("limits.maxDecisionsInFlight must be at least 1".into()),
            Some(n) => limits.max_decisions_in_flight = n,
        }
        Ok(limits)
    }
}

/// The default connection cap: 4096, or fewer when the soft fd limit leaves less room.
pub fn connection_cap(soft_fd_limit: Option<usize>) -> usize {
    soft_fd_limit.map_or(DEFAULT_MAX_CONNECTIONS, |soft| {
        fd_room(soft).min(DEFAULT_MAX_CONNECTIONS)
    })
}

/// Connections that fit under `soft` fds with a quarter (at least 64) kept for everything else.
fn fd_room(soft: usize) -> usize {
    let reserve = (soft / 4).max(MIN_FD_RESERVE);
    soft.saturating_sub(reserve).max(MIN_CONNECTIONS)
}

/// The soft `RLIMIT_NOFILE` of this process, read from `/proc/self/limits` (Linux; no libc
/// dependency for one number). `None` where it cannot be read or is unlimited.
pub fn soft_fd_limit() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    parse_soft_fd_limit(&text)
}

fn parse_soft_fd_limit(limits: &str) -> Option<usize> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files")
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_soft_limit_from_proc_self_limits() {
        let text = "Limit                     Soft Limit           Hard Limit           Units     \n\
                    Max cpu time              unlimited            unlimited            seconds   \n\
                    Max open files            1024                 524288               files     \n";
        assert_eq!(parse_soft_fd_limit(text), Some(1024));
        assert_eq!(
            parse_soft_fd_limit("Max open files  unlimited unlimited files"),
            None
        );
        assert_eq!(parse_soft_fd_limit(""), None);
    }

    #[test]
    fn the_connection_cap_leaves_fds_for_everything_else() {
        assert_eq!(connection_cap(None), 4096);
        assert_eq!(connection_cap(Some(1_048_576)), 4096);
        assert_eq!(connection_cap(Some(1024)), 768);
        assert_eq!(connection_cap(Some(256)), 192);
        assert_eq!(connection_cap(Some(20)), MIN_CONNECTIONS);
    }

    #[test]
    fn zero_limits_are_refused() {
        let config = LimitsConfig {
            max_decisions_in_flight: Some(0),
            ..LimitsConfig::default()
        };
        let err = ServerLimits::from_config(Some(&config)).unwrap_err();
        assert!(err.contains("maxDecisionsInFlight"), "{err}");
        let config = LimitsConfig {
            header_timeout_seconds: Some(0),
            ..LimitsConfig::default()
        };
        assert!(ServerLimits::from_config(Some(&config)).is_err());
    }

    #[test]
    fn configured_values_replace_the_defaults() {
        let config = LimitsConfig {
            header_timeout_seconds: Some(1),
            body_timeout_seconds: Some(2),
            idle_timeout_seconds: Some(3),
            max_connections: Some(5),
            max_decisions_in_flight: Some(4),
            max_concurrent_evaluations: Some(6),
        };
        let limits = ServerLimits::from_config(Some(&config)).unwrap();
        assert_eq!(limits.header_timeout, Duration::from_secs(1));
        assert_eq!(limits.body_timeout, Duration::from_secs(2));
        assert_eq!(limits.idle_timeout, Duration::from_secs(3));
        assert_eq!(limits.max_connections, 5);
        assert_eq!(limits.max_decisions_in_flight, 4);
    }
}
