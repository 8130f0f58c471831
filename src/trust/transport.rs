//! How the TUF client reaches a mirror: tough's `Transport` over our own bounded `reqwest`
//! client (or a directory, for air-gapped mirrors), recording every file it hands to tough.
//!
//! tough verifies what it reads; the recording lets the refresh cache exactly the bytes that were
//! verified (one download, no second fetch that could differ), see `super::cache`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt as _;
use tough::{FilesystemTransport, Transport, TransportError, TransportErrorKind, TransportStream};
use url::Url;

use crate::net;

/// The files one update cycle fetched, in order, by URL.
pub(crate) type Recording = Arc<Mutex<Vec<(Url, Bytes)>>>;

#[derive(Debug, Clone)]
enum Source {
    Http(reqwest::Client),
    /// `file://` mirrors: a copy of the repository on disk (air-gapped installs).
    Directory,
}

/// A transport for one update cycle: every body is read whole, at most `max_body` bytes, before
/// tough sees it (tough bounds each role's size too; this bounds what we buffer).
#[derive(Debug, Clone)]
pub(crate) struct MirrorTransport {
    source: Source,
    max_body: u64,
    recording: Recording,
}

impl MirrorTransport {
    /// An HTTP(S) client with the timeouts of one request; no redirects, like every other
    /// outbound client of shipgate: the mirror URL is configured exactly.
    pub(crate) fn http(timeout: Duration, max_body: u64) -> Result<MirrorTransport, String> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("shipgate/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| net::error_text(&e))?;
        Ok(MirrorTransport {
            source: Source::Http(client),
            max_body,
            recording: Recording::default(),
        })
    }

    pub(crate) fn directory(max_body: u64) -> MirrorTransport {
        MirrorTransport {
            source: Source::Directory,
            max_body,
            recording: Recording::default(),
        }
    }

    /// The same client with an empty recording, for the next update cycle.
    pub(crate) fn fresh(&self) -> MirrorTransport {
        MirrorTransport {
            source: self.source.clone(),
            max_body: self.max_body,
            recording: Recording::default(),
        }
    }

    /// What this transport fetched so far.
    pub(crate) fn recorded(&self) -> Vec<(Url, Bytes)> {
        self.recording
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    async fn fetch_bytes(&self, url: &Url) -> Result<Bytes, TransportError> {
        let limit = usize::try_from(self.max_body).unwrap_or(usize::MAX);
        match &self.source {
            Source::Http(client) => {
                if !matches!(url.scheme(), "http" | "https") {
                    return Err(TransportError::new(
                        TransportErrorKind::UnsupportedUrlScheme,
                        url,
                    ));
                }
                let response = client.get(url.clone()).send().await.map_err(|e| {
                    TransportError::new_with_cause(
                        TransportErrorKind::Other,
                        url,
                        net::error_text(&e),
                    )
                })?;
                let status = response.status();
                if status == reqwest::StatusCode::NOT_FOUND {
                    // tough walks `N.root.json` until one is missing: this is the normal end.
                    return Err(TransportError::new(TransportErrorKind::FileNotFound, url));
                }
                if !status.is_success() {
                    return Err(TransportError::new_with_cause(
                        TransportErrorKind::Other,
                        url,
                        format!("HTTP status {status}"),
                    ));
                }
                net::read_body(response, limit).await.map_err(|e| {
                    let why = match e {
                        net::BodyError::TooLarge => format!("larger than {limit} bytes"),
                        net::BodyError::Transport(e) => net::error_text(&e),
                    };
                    TransportError::new_with_cause(TransportErrorKind::Other, url, why)
                })
            }
            Source::Directory => {
                let mut stream = FilesystemTransport.fetch(url.clone()).await?;
                let mut body = Vec::new();
                while let Some(chunk) = stream.next().await {
                    let chunk = chunk?;
                    if body.len() + chunk.len() > limit {
                        return Err(TransportError::new_with_cause(
                            TransportErrorKind::Other,
                            url,
                            format!("larger than {limit} bytes"),
                        ));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(Bytes::from(body))
            }
        }
    }
}

#[async_trait::async_trait]
impl Transport for MirrorTransport {
    async fn fetch(&self, url: Url) -> Result<TransportStream, TransportError> {
        let body = self.fetch_bytes(&url).await?;
        self.recording
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((url, body.clone()));
        Ok(Box::pin(futures::stream::iter([Ok(body)])))
    }
}
