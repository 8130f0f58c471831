//! A loopback stub of AWS Signer's `GetRevocationStatus`, and the SDK loader hook that points
//! the real `aws-sdk-signer` client at it. No local implementation of AWS Signer exists (moto has
//! none), so this stub answers; it records the exact wire request the SDK sends.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, Method, StatusCode, Uri};
use shipgate::registry::LoaderHook;

/// One request the stub was sent.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub authorization: Option<String>,
    pub host: Option<String>,
}

/// A stub answering every request with `status` and `body` after `delay`; returns its URL and
/// what it saw.
pub async fn serve(
    status: StatusCode,
    body: &'static str,
    delay: Duration,
) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let app = axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap| {
        let record = record.clone();
        async move {
            record.lock().unwrap().push(Seen {
                method,
                path: uri.path().to_string(),
                query: url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect(),
                authorization: headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string),
                host: headers
                    .get("host")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string),
            });
            tokio::time::sleep(delay).await;
            let error_type = if status.is_success() {
                ""
            } else {
                "InternalServiceErrorException"
            };
            (
                status,
                [
                    ("content-type", "application/json"),
                    ("x-amzn-errortype", error_type),
                ],
                body,
            )
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, seen)
}

/// Resolves every name to the loopback address: the SDK asks for `data-127.0.0.1` (the
/// operation's `data-` host prefix on the endpoint's host), which no system resolver knows.
#[derive(Debug, Clone)]
struct Loopback;

impl aws_smithy_runtime_api::client::dns::ResolveDns for Loopback {
    fn resolve_dns<'a>(
        &'a self,
        _name: &'a str,
    ) -> aws_smithy_runtime_api::client::dns::DnsFuture<'a> {
        aws_smithy_runtime_api::client::dns::DnsFuture::ready(Ok(vec![std::net::IpAddr::V4(
            std::net::Ipv4Addr::LOCALHOST,
        )]))
    }
}

pub fn sdk_hook(endpoint: &str) -> LoaderHook {
    let endpoint = endpoint.to_string();
    Arc::new(move |loader: aws_config::ConfigLoader| {
        use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
            .build_with_resolver(Loopback);
        loader
            .endpoint_url(endpoint.clone())
            .http_client(http)
            .credentials_provider(aws_sdk_signer::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
    })
}
