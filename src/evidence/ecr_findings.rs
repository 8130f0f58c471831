//! Amazon ECR image scan findings (`DescribeImageScanFindings`), basic and enhanced scanning.
//!
//! ECR is behind the `ScanFindings` trait (one page per call) so that tests and other
//! environments need no AWS; `collect` does the waiting, paging and retrying, bounded by the
//! gate's time budget. Judging the findings is `evaluate::vulnerabilities`, pure.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use crate::reference::{Digest, Repository};
use crate::registry::ecr::parse_ecr_host;
use crate::registry::ecr::EcrClients;
use crate::registry::LoaderHook;
pub use shipgate_core::evidence::ecr_findings::*;
use shipgate_core::evidence::ecr_signing::EcrSigningStatus;

/// One page of `DescribeImageScanFindings`.
#[derive(Debug, Clone, Default)]
pub struct FindingsPage {
    /// `imageScanStatus.status` as ECR sent it (including statuses this SDK does not know).
    pub status: Option<String>,
    pub status_description: Option<String>,
    pub findings: Vec<Finding>,
    pub next_token: Option<String>,
}

/// Why a call to ECR did not give a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EcrCallError {
    /// `ScanNotFoundException`: the image has not been scanned (yet).
    ScanNotFound,
    /// Throttling, a 5xx, a timeout or a connection failure: worth retrying.
    Retryable(String),
    /// Anything else (no such repository or image, access denied, bad credentials).
    Fatal(String),
}

/// The ECR API the findings check needs, one call per method.
#[async_trait]
pub trait ScanFindings: Send + Sync {
    /// One page of the scan findings of `target` (the first when `next_token` is `None`).
    async fn describe(
        &self,
        target: &ScanTarget,
        next_token: Option<&str>,
    ) -> Result<FindingsPage, EcrCallError>;

    /// Starts a basic scan of `target`.
    async fn start_scan(&self, target: &ScanTarget) -> Result<(), EcrCallError>;

    /// ECR's managed-signing statuses of `target` (`DescribeImageSigningStatus`). The default
    /// says this port cannot read them, so an `ecrSigning` rule errors instead of passing.
    async fn signing_status(
        &self,
        target: &ScanTarget,
    ) -> Result<Vec<EcrSigningStatus>, EcrCallError> {
        let _ = target;
        Err(EcrCallError::Fatal(
            "this ECR client does not read managed-signing status".into(),
        ))
    }
}

/// Pages of one scan read at most (ECR pages hold up to 1000 findings).
const MAX_PAGES: usize = 1000;
/// First pause between polls of an unfinished scan; doubles up to `MAX_POLL_BACKOFF`.
const FIRST_POLL_BACKOFF: Duration = Duration::from_millis(250);
const MAX_POLL_BACKOFF: Duration = Duration::from_secs(5);
/// First pause before retrying a throttled or failed call; doubles up to `MAX_RETRY_BACKOFF`.
const FIRST_RETRY_BACKOFF: Duration = Duration::from_millis(100);
const MAX_RETRY_BACKOFF: Duration = Duration::from_secs(2);

/// How to collect: the longest wait and whether to start a scan, over all policies.
#[derive(Debug, Clone, Copy)]
pub struct CollectPlan {
    pub wait_for_scan: Duration,
    pub start_scan: bool,
    /// The gate's evaluation timeout, and when it ends.
    pub gate_timeout: Duration,
    pub gate_deadline: Instant,
}

/// Reads the scan findings of `repo@digest`, waiting for an unfinished scan and retrying
/// throttled or failed calls, all within `plan`'s bounds.
pub async fn collect(
    source: &dyn ScanFindings,
    repo: &Repository,
    digest: &Digest,
    plan: &CollectPlan,
) -> ScanEvidence {
    let Some(host) = parse_ecr_host(&repo.registry) else {
        return ScanEvidence {
            outcome: ScanOutcome::NotEcr {
                registry: repo.registry.clone(),
            },
            target: None,
            notes: Vec::new(),
        };
    };
    let target = ScanTarget {
        registry_id: host.account,
        region: host.region,
        repository: repo.name.clone(),
        digest: digest.to_string(),
    };
    let mut notes = Vec::new();
    let outcome = collect_target(source, &target, plan, &mut notes).await;
    ScanEvidence {
        outcome,
        target: Some(target),
        notes,
    }
}

async fn collect_target(
    source: &dyn ScanFindings,
    target: &ScanTarget,
    plan: &CollectPlan,
    notes: &mut Vec<String>,
) -> ScanOutcome {
    let started = Instant::now();
    let budget = plan.gate_timeout;
    // Calls must end a little before the gate gives up, and the wait a little before that, so
    // that the decision can say what ended it.
    let call_deadline = plan.gate_deadline - (budget / 10).min(Duration::from_millis(200));
    let wait_cap = plan.gate_deadline - (budget / 4).min(Duration::from_secs(2));
    let wanted = started + plan.wait_for_scan;
    let (wait_until, bound) = if wanted <= wait_cap {
        (wanted, WaitBound::WaitForScan(plan.wait_for_scan))
    } else {
        (
            wait_cap,
            WaitBound::GateTimeout {
                timeout: budget,
                wait_for_scan: plan.wait_for_scan,
            },
        )
    };
    let mut backoff = FIRST_POLL_BACKOFF;
    let mut started_scan = false;
    let mut polls = 0usize;
    loop {
        polls += 1;
        let last_status = match read_all_pages(source, target, call_deadline, notes).await {
            Ok(Read::Done {
                status,
                findings,
                pages,
            }) => {
                if polls > 1 {
                    notes.push(format!(
                        "the scan finished after {} polls",
                        polls.saturating_sub(1)
                    ));
                }
                return ScanOutcome::Findings {
                    status,
                    findings,
                    pages,
                };
            }
            Ok(Read::Waiting(status)) => status,
            Ok(Read::Unusable(status, description)) => {
                return ScanOutcome::Unusable {
                    status,
                    description,
                }
            }
            Err(EcrCallError::ScanNotFound) => {
                if plan.start_scan && !started_scan {
                    started_scan = true;
                    match with_retries(call_deadline, notes, || source.start_scan(target)).await {
                        Ok(()) => notes.push("no scan found; started a basic scan".into()),
                        Err(e) => notes.push(format!(
                            "no scan found, and StartImageScan did not start one: {}",
                            describe_error(&e)
                        )),
                    }
                }
                "no scan".to_string()
            }
            Err(e) => {
                return ScanOutcome::Error {
                    reason: describe_error(&e),
                }
            }
        };
        let now = Instant::now();
        if now >= wait_until {
            return ScanOutcome::NotFinished {
                last_status,
                waited: now.saturating_duration_since(started),
                bound,
            };
        }
        tokio::time::sleep_until((now + backoff).min(wait_until)).await;
        backoff = (backoff * 2).min(MAX_POLL_BACKOFF);
    }
}

enum Read {
    Done {
        status: String,
        findings: Vec<Finding>,
        pages: usize,
    },
    Waiting(String),
    Unusable(String, Option<String>),
}

/// Every page of the current scan, or the scan's status when it has no results.
async fn read_all_pages(
    source: &dyn ScanFindings,
    target: &ScanTarget,
    deadline: Instant,
    notes: &mut Vec<String>,
) -> Result<Read, EcrCallError> {
    let first = with_retries(deadline, notes, || source.describe(target, None)).await?;
    let status = match first.status.as_deref() {
        Some(s @ ("COMPLETE" | "ACTIVE")) => s.to_string(),
        Some(s @ ("PENDING" | "IN_PROGRESS")) => return Ok(Read::Waiting(s.to_string())),
        Some(other) => {
            return Ok(Read::Unusable(
                other.to_string(),
                first.status_description.clone(),
            ))
        }
        None => {
            return Ok(Read::Unusable(
                "(none)".to_string(),
                Some("ECR returned no imageScanStatus".into()),
            ))
        }
    };
    let mut findings = first.findings;
    let mut token = first.next_token;
    let mut pages = 1usize;
    let mut seen_tokens = std::collections::HashSet::new();
    while let Some(t) = token.filter(|t| !t.is_empty()) {
        if !seen_tokens.insert(t.clone()) {
            return Err(EcrCallError::Fatal(format!(
                "ECR returned the same nextToken twice while paging the findings (after {pages} pages); refusing to loop"
            )));
        }
        if pages >= MAX_PAGES {
            return Err(EcrCallError::Fatal(format!(
                "the findings span more than {MAX_PAGES} pages; refusing to read further"
            )));
        }
        let page = with_retries(deadline, notes, || source.describe(target, Some(&t))).await?;
        pages += 1;
        findings.extend(page.findings);
        token = page.next_token;
    }
    Ok(Read::Done {
        status,
        findings,
        pages,
    })
}

/// Runs `call` until it succeeds, fails for good, or the retries would pass `deadline`.
async fn with_retries<T, F, Fut>(
    deadline: Instant,
    notes: &mut Vec<String>,
    mut call: F,
) -> Result<T, EcrCallError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, EcrCallError>>,
{
    let mut backoff = FIRST_RETRY_BACKOFF;
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let error = match tokio::time::timeout_at(deadline, call()).await {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(EcrCallError::Retryable(why))) => why,
            Ok(Err(other)) => return Err(other),
            Err(_) => {
                return Err(EcrCallError::Fatal(format!(
                    "ECR did not answer within the gate's time budget (attempt {attempts})"
                )))
            }
        };
        if Instant::now() + backoff >= deadline {
            return Err(EcrCallError::Fatal(format!(
                "ECR kept failing within the gate's time budget ({attempts} attempt{}; last: {error})",
                if attempts == 1 { "" } else { "s" }
            )));
        }
        notes.push(format!("retried after: {error}"));
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_RETRY_BACKOFF);
    }
}

fn describe_error(e: &EcrCallError) -> String {
    match e {
        EcrCallError::ScanNotFound => "ECR has no scan for this image".into(),
        EcrCallError::Retryable(why) | EcrCallError::Fatal(why) => why.clone(),
    }
}

// --- The AWS SDK implementation ----------------------------------------------------------------

/// `DescribeImageScanFindings` / `StartImageScan` through the AWS SDK with the standard credential
/// chain, one client per region (made on first use). `AWS_ENDPOINT_URL(_ECR)` is honoured by the
/// SDK. The SDK's own retries are off: `collect` retries within the gate's time budget.
pub struct AwsScanFindings {
    clients: EcrClients,
}

impl Default for AwsScanFindings {
    fn default() -> Self {
        AwsScanFindings {
            clients: EcrClients::new(None, false),
        }
    }
}

impl AwsScanFindings {
    pub fn new() -> AwsScanFindings {
        AwsScanFindings::default()
    }

    /// Like `new`, with `hook` applied to the SDK's configuration loader (after the region is
    /// set), e.g. to pin an endpoint or a credentials provider.
    pub fn with_loader_hook(hook: LoaderHook) -> AwsScanFindings {
        AwsScanFindings {
            clients: EcrClients::new(Some(hook), false),
        }
    }
}

/// Sorts an SDK error into retryable or not. Never includes credentials: SDK errors carry the
/// service's code and message, not the request's signature.
fn classify<E>(
    op: &str,
    target: &ScanTarget,
    e: aws_sdk_ecr::error::SdkError<E, aws_sdk_ecr::config::http::HttpResponse>,
) -> EcrCallError
where
    E: aws_sdk_ecr::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    use aws_sdk_ecr::error::SdkError;
    let where_ = format!(
        "ECR {op} for {}@{} (registry {}, {})",
        target.repository, target.digest, target.registry_id, target.region
    );
    match &e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            let detail = aws_sdk_ecr::error::DisplayErrorContext(&e).to_string();
            // Missing credentials surface as a dispatch failure, but retrying will not help.
            if detail.contains("CredentialsNotLoaded") || detail.contains("ProviderChainError") {
                return EcrCallError::Fatal(format!(
                    "{where_} failed: no AWS credentials could be loaded (environment, profile, SSO, web identity, container or instance role); give the gate credentials with ecr:{op}"
                ));
            }
            EcrCallError::Retryable(format!("{where_} failed: {detail}"))
        }
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or("");
            let message = service.err().message().unwrap_or("");
            let status = service.raw().status().as_u16();
            if code == "ScanNotFoundException" {
                return EcrCallError::ScanNotFound;
            }
            let text = format!(
                "{where_} failed: HTTP {status} {}{}{message}",
                if code.is_empty() { "(no error code)" } else { code },
                if message.is_empty() { "" } else { ": " }
            );
            let throttled = matches!(
                code,
                "ThrottlingException"
                    | "Throttling"
                    | "TooManyRequestsException"
                    | "RequestLimitExceeded"
                    | "ServerException"
                    | "ServiceUnavailable"
                    | "InternalFailure"
            );
            if throttled || status >= 500 || status == 429 {
                return EcrCallError::Retryable(text);
            }
            let hint = match code {
                "RepositoryNotFoundException" | "ImageNotFoundException" => {
                    "; is the image in this account's ECR in this region?"
                }
                "AccessDeniedException" => {
                    "; grant ecr:DescribeImageScanFindings on the repository to the gate's role"
                }
                "UnrecognizedClientException"
                | "InvalidSignatureException"
                | "ExpiredTokenException" => {
                    "; check the AWS credentials (environment, profile or role)"
                }
                _ => "",
            };
            EcrCallError::Fatal(format!("{text}{hint}"))
        }
        _ => EcrCallError::Fatal(format!(
            "{where_} failed: {}; check the AWS credentials (environment, profile or role) and region",
            aws_sdk_ecr::error::DisplayErrorContext(&e)
        )),
    }
}

impl AwsScanFindings {
    /// The ECR client of the target's region.
    async fn client(&self, target: &ScanTarget) -> Result<aws_sdk_ecr::Client, EcrCallError> {
        self.clients
            .get(&target.region)
            .await
            .map_err(|e| EcrCallError::Fatal(e.to_string()))
    }
}

/// The image the ECR calls name: the digest, never a tag.
fn image_id(target: &ScanTarget) -> aws_sdk_ecr::types::ImageIdentifier {
    aws_sdk_ecr::types::ImageIdentifier::builder()
        .image_digest(&target.digest)
        .build()
}

#[async_trait]
impl ScanFindings for AwsScanFindings {
    async fn describe(
        &self,
        target: &ScanTarget,
        next_token: Option<&str>,
    ) -> Result<FindingsPage, EcrCallError> {
        let client = self.client(target).await?;
        let out = client
            .describe_image_scan_findings()
            .registry_id(&target.registry_id)
            .repository_name(&target.repository)
            .image_id(image_id(target))
            .set_next_token(next_token.map(str::to_string))
            .max_results(1000)
            .send()
            .await
            .map_err(|e| classify("DescribeImageScanFindings", target, e))?;
        Ok(page_from_sdk(&out))
    }

    async fn start_scan(&self, target: &ScanTarget) -> Result<(), EcrCallError> {
        let client = self.client(target).await?;
        client
            .start_image_scan()
            .registry_id(&target.registry_id)
            .repository_name(&target.repository)
            .image_id(image_id(target))
            .send()
            .await
            .map_err(|e| classify("StartImageScan", target, e))?;
        Ok(())
    }

    async fn signing_status(
        &self,
        target: &ScanTarget,
    ) -> Result<Vec<EcrSigningStatus>, EcrCallError> {
        let client = self.client(target).await?;
        let out = client
            .describe_image_signing_status()
            .registry_id(&target.registry_id)
            .repository_name(&target.repository)
            .image_id(image_id(target))
            .send()
            .await
            .map_err(|e| classify("DescribeImageSigningStatus", target, e))?;
        Ok(out
            .signing_statuses()
            .iter()
            .take(MAX_SIGNING_STATUSES)
            .map(|s| EcrSigningStatus {
                signing_profile_arn: s.signing_profile_arn().map(str::to_string),
                status: s
                    .status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_else(|| "UNKNOWN".into()),
                failure_code: s.failure_code().map(str::to_string),
                failure_reason: s.failure_reason().map(str::to_string),
            })
            .collect())
    }
}

/// Signing statuses read per image at most (ECR has one per matching signing rule, ≤ 10).
const MAX_SIGNING_STATUSES: usize = 32;

fn page_from_sdk(
    out: &aws_sdk_ecr::operation::describe_image_scan_findings::DescribeImageScanFindingsOutput,
) -> FindingsPage {
    let status = out.image_scan_status();
    let mut findings = Vec::new();
    if let Some(scan) = out.image_scan_findings() {
        findings.extend(scan.findings().iter().map(basic_finding));
        findings.extend(scan.enhanced_findings().iter().map(enhanced_finding));
    }
    FindingsPage {
        status: status
            .and_then(|s| s.status())
            .map(|s| s.as_str().to_string()),
        status_description: status.and_then(|s| s.description()).map(str::to_string),
        findings,
        next_token: out.next_token().map(str::to_string),
    }
}

fn basic_finding(f: &aws_sdk_ecr::types::ImageScanFinding) -> Finding {
    let attribute = |key: &str| {
        f.attributes()
            .iter()
            .find(|a| a.key() == key)
            .and_then(|a| a.value())
            .map(str::to_string)
    };
    let score = ["CVSS3_SCORE", "CVSS2_SCORE"]
        .iter()
        .find_map(|k| attribute(k).and_then(|v| v.trim().parse::<f64>().ok()))
        .filter(|s| s.is_finite());
    let reported = f
        .severity()
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|| "(none)".into());
    Finding {
        id: f.name().unwrap_or("(unnamed finding)").to_string(),
        severity: severity_of(&reported),
        reported_severity: reported,
        scan: ScanKind::Basic,
        status: None,
        score,
        fix_available: None,
        exploit_available: None,
        package: attribute("package_name"),
        version: attribute("package_version"),
        fixed_in: None,
        link: f.uri().map(str::to_string),
    }
}

fn enhanced_finding(f: &aws_sdk_ecr::types::EnhancedImageScanFinding) -> Finding {
    let details = f.package_vulnerability_details();
    let id = details
        .and_then(|d| d.vulnerability_id())
        .or(f.title())
        .unwrap_or("(unnamed finding)")
        .to_string();
    let packages = details.map(|d| d.vulnerable_packages()).unwrap_or_default();
    let join = |field: fn(&aws_sdk_ecr::types::VulnerablePackage) -> Option<&str>| {
        let parts: Vec<&str> = packages.iter().filter_map(field).collect();
        (!parts.is_empty()).then(|| parts.join(", "))
    };
    // `score` is a plain number in the SDK (0 when absent): fall back to the CVSS base scores,
    // and treat "no score anywhere" as unknown so that `minScore` never drops it.
    let cvss = details
        .map(|d| d.cvss())
        .unwrap_or_default()
        .iter()
        .map(|c| c.base_score())
        .filter(|s| s.is_finite() && *s > 0.0)
        .fold(None, |acc: Option<f64>, s| {
            Some(acc.map_or(s, |a| a.max(s)))
        });
    let score = if f.score().is_finite() && f.score() > 0.0 {
        Some(f.score())
    } else {
        cvss
    };
    let link = details
        .and_then(|d| d.source_url())
        .or_else(|| {
            f.remediation()
                .and_then(|r| r.recommendation())
                .and_then(|r| r.url())
        })
        .or_else(|| details.and_then(|d| d.reference_urls().first().map(String::as_str)))
        .map(str::to_string);
    let reported = f.severity().unwrap_or("(none)").to_string();
    Finding {
        id,
        severity: severity_of(&reported),
        reported_severity: reported,
        scan: ScanKind::Enhanced,
        status: f.status().map(str::to_string),
        score,
        fix_available: f.fix_available().map(str::to_string),
        exploit_available: f.exploit_available().map(str::to_string),
        package: join(|p| p.name()),
        version: join(|p| p.version()),
        fixed_in: join(|p| p.fixed_in_version()),
        link,
    }
}

/// A shared handle, as the gate holds it.
pub type SharedScanFindings = Arc<dyn ScanFindings>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Scripted {
        pages: std::sync::Mutex<Vec<Result<FindingsPage, EcrCallError>>>,
        calls: AtomicUsize,
        starts: AtomicUsize,
    }

    impl Scripted {
        fn new(pages: Vec<Result<FindingsPage, EcrCallError>>) -> Scripted {
            Scripted {
                pages: std::sync::Mutex::new(pages),
                calls: AtomicUsize::new(0),
                starts: AtomicUsize::new(0),
            }
        }
    }

    #[async_trait]
    impl ScanFindings for Scripted {
        async fn describe(
            &self,
            _: &ScanTarget,
            _: Option<&str>,
        ) -> Result<FindingsPage, EcrCallError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let mut pages = self.pages.lock().unwrap();
            if pages.len() > 1 {
                pages.remove(0)
            } else {
                pages[0].clone()
            }
        }
        async fn start_scan(&self, _: &ScanTarget) -> Result<(), EcrCallError> {
            self.starts.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    }

    fn page(status: &str, ids: &[&str], next: Option<&str>) -> FindingsPage {
        FindingsPage {
            status: Some(status.into()),
            status_description: None,
            findings: ids
                .iter()
                .map(|id| Finding {
                    id: id.to_string(),
                    severity: Severity::High,
                    reported_severity: "HIGH".into(),
                    scan: ScanKind::Basic,
                    status: None,
                    score: None,
                    fix_available: None,
                    exploit_available: None,
                    package: None,
                    version: None,
                    fixed_in: None,
                    link: None,
                })
                .collect(),
            next_token: next.map(str::to_string),
        }
    }

    fn repo() -> (Repository, Digest) {
        let image: crate::reference::ImageRef = format!(
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/app@sha256:{}",
            "a".repeat(64)
        )
        .parse()
        .unwrap();
        (image.repository, image.digest.unwrap())
    }

    fn plan(wait: Duration, timeout: Duration) -> CollectPlan {
        CollectPlan {
            wait_for_scan: wait,
            start_scan: true,
            gate_timeout: timeout,
            gate_deadline: Instant::now() + timeout,
        }
    }

    #[tokio::test]
    async fn waits_for_a_pending_scan_then_pages() {
        let source = Scripted::new(vec![
            Err(EcrCallError::ScanNotFound),
            Ok(page("IN_PROGRESS", &[], None)),
            Err(EcrCallError::Retryable("HTTP 500".into())),
            Ok(page("COMPLETE", &["CVE-1"], Some("t1"))),
            Ok(page("COMPLETE", &["CVE-2"], None)),
        ]);
        let (r, d) = repo();
        let e = collect(
            &source,
            &r,
            &d,
            &plan(Duration::from_secs(10), Duration::from_secs(10)),
        )
        .await;
        match e.outcome {
            ScanOutcome::Findings {
                findings, pages, ..
            } => {
                assert_eq!(pages, 2);
                assert_eq!(findings.len(), 2);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(source.starts.load(Ordering::SeqCst), 1);
        assert_eq!(e.target.unwrap().registry_id, "123456789012");
    }

    #[tokio::test]
    async fn names_the_bound_that_ended_the_wait() {
        let (r, d) = repo();
        let source = Scripted::new(vec![Ok(page("PENDING", &[], None))]);
        let e = collect(
            &source,
            &r,
            &d,
            &plan(Duration::from_millis(300), Duration::from_secs(5)),
        )
        .await;
        assert!(matches!(
            e.outcome,
            ScanOutcome::NotFinished {
                bound: WaitBound::WaitForScan(_),
                ..
            }
        ));
        let e = collect(
            &source,
            &r,
            &d,
            &plan(Duration::from_secs(120), Duration::from_secs(1)),
        )
        .await;
        match e.outcome {
            ScanOutcome::NotFinished { bound, waited, .. } => {
                assert!(matches!(bound, WaitBound::GateTimeout { .. }));
                assert!(waited < Duration::from_secs(1));
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn statuses_that_will_not_finish_fail_closed_and_loops_are_refused() {
        let (r, d) = repo();
        for status in [
            "FAILED",
            "UNSUPPORTED_IMAGE",
            "SCAN_ELIGIBILITY_EXPIRED",
            "FINDINGS_UNAVAILABLE",
            "SOMETHING_NEW",
        ] {
            let source = Scripted::new(vec![Ok(page(status, &[], None))]);
            let e = collect(
                &source,
                &r,
                &d,
                &plan(Duration::from_secs(1), Duration::from_secs(2)),
            )
            .await;
            assert!(matches!(&e.outcome, ScanOutcome::Unusable { status: s, .. } if s == status));
        }
        let source = Scripted::new(vec![Ok(page("COMPLETE", &["CVE-1"], Some("same")))]);
        let e = collect(
            &source,
            &r,
            &d,
            &plan(Duration::ZERO, Duration::from_secs(20)),
        )
        .await;
        assert!(
            matches!(&e.outcome, ScanOutcome::Error { reason } if reason.contains("same nextToken"))
        );
        let source = Scripted::new(vec![Err(EcrCallError::Retryable(
            "ThrottlingException".into(),
        ))]);
        let e = collect(
            &source,
            &r,
            &d,
            &plan(Duration::ZERO, Duration::from_secs(2)),
        )
        .await;
        assert!(
            matches!(&e.outcome, ScanOutcome::Error { reason } if reason.contains("kept failing") && reason.contains("ThrottlingException")),
            "{:?}",
            e.outcome
        );
        assert!(source.calls.load(Ordering::SeqCst) > 3);
    }

    #[tokio::test]
    async fn non_ecr_images_are_not_asked() {
        let source = Scripted::new(vec![Ok(page("COMPLETE", &[], None))]);
        let image: crate::reference::ImageRef =
            format!("ghcr.io/acme/app@sha256:{}", "b".repeat(64))
                .parse()
                .unwrap();
        let e = collect(
            &source,
            &image.repository,
            image.digest.as_ref().unwrap(),
            &plan(Duration::ZERO, Duration::from_secs(5)),
        )
        .await;
        assert!(matches!(e.outcome, ScanOutcome::NotEcr { .. }));
        assert_eq!(source.calls.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn unknown_severities_are_untriaged() {
        assert_eq!(severity_of("critical"), Severity::Critical);
        assert_eq!(severity_of("UNDEFINED"), Severity::Untriaged);
        assert_eq!(severity_of("UNTRIAGED"), Severity::Untriaged);
        assert!(Severity::Untriaged > Severity::High && Severity::Untriaged < Severity::Critical);
    }
}
