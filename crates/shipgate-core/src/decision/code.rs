//! Stable check codes: what a program reads instead of the human reason.
//!
//! A code never changes meaning once released; new situations get new codes. Each code has a
//! remediation sentence (empty for the codes of a passing check). `docs/codes.md` is generated
//! from this table (`shipgate decision codes`) and checked in CI.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

macro_rules! check_codes {
    ($( $variant:ident = $text:literal, $meaning:literal, $remediation:literal; )*) => {
        /// The stable code of a check result (kebab-case in JSON).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
        pub enum CheckCode {
            $( #[doc = $meaning] #[serde(rename = $text)] $variant, )*
        }

        impl CheckCode {
            /// Every code, in documentation order.
            pub const ALL: &'static [CheckCode] = &[$(CheckCode::$variant),*];

            /// The code as it appears in JSON: `signature-missing`.
            pub fn as_str(self) -> &'static str {
                match self { $(CheckCode::$variant => $text,)* }
            }

            /// What the code means.
            pub fn meaning(self) -> &'static str {
                match self { $(CheckCode::$variant => $meaning,)* }
            }

            /// What to do about it; empty for the codes of a passing check.
            pub fn remediation(self) -> &'static str {
                match self { $(CheckCode::$variant => $remediation,)* }
            }
        }
    };
}

check_codes! {
    PolicyUnmatched = "policy-unmatched",
        "No loaded policy governs the image and unmatched images are denied.",
        "Add the image's registry/repository to a policy's `images`, or check the image name.";
    PolicyUnmatchedAllowed = "policy-unmatched-allowed",
        "No policy governs the image; the configuration allows unmatched images (a skip).", "";
    PolicyNotGoverning = "policy-not-governing",
        "The request named a policy that does not govern the image.",
        "Name a policy whose `images` cover the image, or add the repository to that policy.";
    ResolveFailed = "resolve-failed",
        "The tag could not be resolved to a digest.",
        "Check that the tag exists and that the gate can reach and authenticate to the registry; or pass a digest.";
    EvaluationTimeout = "evaluation-timeout",
        "The evaluation did not finish within the gate's timeout.",
        "Retry; if it persists, check the registry's and ECR's latency or raise the gate's timeout.";
    GateUnreachable = "gate-unreachable",
        "The gate could not be asked or did not answer (the GitHub step's remote mode).",
        "Check the gate URL, the step's token and the network path to the gate, then re-run the step.";
    InternalError = "internal-error",
        "The evaluation failed unexpectedly (a bug in shipgate).",
        "Retry, and report the decision to the shipgate maintainers.";

    SignatureVerified = "signature-verified",
        "Enough distinct authorities signed the digest.", "";
    SignatureMissing = "signature-missing",
        "No signature was found for the digest.",
        "Sign the digest (`cosign sign --key KEY IMAGE@DIGEST`, or keyless in CI) and push the signature to the image's repository.";
    SignatureIdentityMismatch = "signature-identity-mismatch",
        "Signatures were found, but some are by signers the policy does not name.",
        "Sign with an identity the policy names (certificate subject and issuer), or add the signer to the policy's authorities.";
    SignatureUnverified = "signature-unverified",
        "Signatures were found, but too few verify for the policy's authorities.",
        "Re-sign the digest with a key or identity the policy trusts, with a transparency-log entry where the authority requires one.";

    ProvenanceVerified = "provenance-verified",
        "Signed provenance was found and meets the policy.", "";
    ProvenanceMissing = "provenance-missing",
        "No attestation was found for the digest.",
        "Attach signed SLSA provenance to the digest in the build (`cosign attest`, `actions/attest-build-provenance`).";
    ProvenanceUnverified = "provenance-unverified",
        "Attestations were found, but none is a signed provenance that meets the policy.",
        "Build from the source repository, ref and workflow the policy names, and sign the provenance with a trusted authority.";

    FindingsWithinBudget = "findings-within-budget",
        "The scan findings are within the policy's limits.", "";
    FindingOverBudget = "finding-over-budget",
        "Counted findings exceed the policy's severity limit or budget.",
        "Fix the listed findings (update the packages, rebuild on a patched base), or accept one in `ignore` with a reason and an expiry.";
    ScanPending = "scan-pending",
        "The ECR scan has not finished (or not started) within the wait.",
        "Retry when the scan has finished, raise `waitForScan`, or turn on scan-on-push / `startScan`.";
    ScanUnusable = "scan-unusable",
        "The ECR scan ended in a status with no findings (FAILED, UNSUPPORTED_IMAGE, …).",
        "Scan the image again; if ECR cannot scan it, use a supported base image.";
    ScanUnavailable = "scan-unavailable",
        "ECR could not be asked for the findings.",
        "Check the gate's AWS credentials (ecr:DescribeImageScanFindings) and region, then retry.";
    ScanNotEcr = "scan-not-ecr",
        "The policy reads ECR findings, but the image is not in ECR.",
        "Push the image to Amazon ECR, or narrow this policy's `images` to ECR repositories.";

    EcrSigningComplete = "ecr-signing-complete",
        "Amazon ECR reports that its managed signing of the image is complete.", "";
    EcrSigningMissing = "ecr-signing-missing",
        "ECR reports no managed signing of the image (by the profile the policy names).",
        "Add an ECR signing configuration rule that matches the repository (and the policy's signing profile), then push the image again.";
    EcrSigningFailed = "ecr-signing-failed",
        "ECR's managed signing of the image failed.",
        "Fix what the failure code says (e.g. the signing profile's state or ECR's permissions on AWS Signer), then push the image again.";
    EcrSigningPending = "ecr-signing-pending",
        "ECR is still signing the image.",
        "Retry in a few seconds; ECR signs shortly after the push.";
    EcrSigningUnavailable = "ecr-signing-unavailable",
        "ECR could not be asked for the image's signing status.",
        "Check the gate's AWS credentials (ecr:DescribeImageSigningStatus) and region, then retry.";
    EcrSigningNotEcr = "ecr-signing-not-ecr",
        "The policy requires ECR managed signing, but the image is not in ECR.",
        "Push the image to Amazon ECR, or narrow this policy's `images` to ECR repositories.";

    BaseAllowed = "base-allowed",
        "Every platform of the image is built on an allowed base.", "";
    BaseNotAllowed = "base-not-allowed",
        "The image is not built on any allowed base.",
        "Rebuild on a base image the policy allows (`baseImages.allow`), or add the base to the policy.";
    BaseDenied = "base-denied",
        "The image is built on a denied base.",
        "Rebuild on a base image that no `baseImages.deny` entry names.";

    EvidenceUnavailable = "evidence-unavailable",
        "Evidence could not be read (registry or lookup error): not a verdict.",
        "Check that the gate can reach and authenticate to the registry, then retry.";
    EvidenceTruncated = "evidence-truncated",
        "A bound cut evidence collection short, and what was read does not satisfy the policy.",
        "Remove stale or junk artifacts from the image's repository, or raise the bound the reason names.";
    EvidenceNotCollected = "evidence-not-collected",
        "A policy rule has no evidence: nothing collected it (a shipgate bug or an unsupported rule).",
        "Upgrade shipgate, or remove the rule this version cannot evaluate; report it if it persists.";
}

impl std::fmt::Display for CheckCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `docs/codes.md`: every code with its meaning and remediation, generated from the table.
pub fn codes_markdown() -> String {
    let mut out = String::from(
        "# Check codes\n\nEvery check in a decision carries a stable `code` and, when it does not pass, a\n`remediation`. Programs read the code; people read the `reason`. Generated by\n`shipgate decision codes`; CI checks that this page matches the code.\n\n| code | meaning | what to do |\n|---|---|---|\n",
    );
    for code in CheckCode::ALL {
        let remediation = match code.remediation() {
            "" => "(passing)",
            r => r,
        };
        out.push_str(&format!(
            "| `{code}` | {} | {remediation} |\n",
            code.meaning()
        ));
    }
    out
}
