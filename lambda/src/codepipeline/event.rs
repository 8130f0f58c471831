//! The CodePipeline Invoke (Lambda) job event, as documented in "Example JSON event" of
//! <https://docs.aws.amazon.com/codepipeline/latest/userguide/actions-invoke-lambda-function.html>.
//!
//! Parsed in two steps so that no error message can quote the job's `artifactCredentials`:
//! the job id first (without it nothing can be reported), then the job data without the
//! credentials (errors name the field), then the credentials alone (errors say only that
//! they are malformed).

use serde::Deserialize;
use serde_json::Value;

/// Longest job id accepted (CodePipeline's are UUIDs).
const MAX_JOB_ID_LEN: usize = 128;
/// Longest `UserParameters` accepted (CodePipeline itself allows 1000 characters).
pub const MAX_USER_PARAMETERS_LEN: usize = 8 * 1024;

/// One CodePipeline job: its id and what it asks, or why it cannot be read.
#[derive(Debug)]
pub struct Job {
    pub id: String,
    /// The job's data, or why it is malformed (reported as a `ConfigurationError`).
    pub data: Result<JobData, String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobData {
    pub action_configuration: ActionConfiguration,
    #[serde(default)]
    pub input_artifacts: Vec<Artifact>,
    /// Set by the two-step parse, never by serde (the field is removed before).
    #[serde(skip)]
    pub artifact_credentials: Option<ArtifactCredentials>,
    #[serde(default)]
    pub continuation_token: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ActionConfiguration {
    pub configuration: Configuration,
}

#[derive(Debug, Deserialize)]
pub struct Configuration {
    #[serde(rename = "FunctionName", default)]
    pub function_name: Option<String>,
    #[serde(rename = "UserParameters", default)]
    pub user_parameters: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Artifact {
    pub name: String,
    #[serde(default)]
    pub revision: Option<String>,
    pub location: ArtifactLocation,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactLocation {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub s3_location: Option<S3Location>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct S3Location {
    pub bucket_name: String,
    pub object_key: String,
}

/// The job's temporary credentials for its artifact bucket. `Debug` shows the access key id
/// only: the secret and the session token must never reach a log.
#[derive(Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
}

impl std::fmt::Debug for ArtifactCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArtifactCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"** redacted **")
            .field("session_token", &"** redacted **")
            .finish()
    }
}

/// An event that names no job: nothing can be reported to CodePipeline.
#[derive(Debug, thiserror::Error)]
#[error("the CodePipeline event has no usable `CodePipeline.job.id` ({0})")]
pub struct NoJobId(pub &'static str);

/// Reads a `{"CodePipeline.job": …}` event.
pub fn parse(event: Value) -> Result<Job, NoJobId> {
    let Value::Object(mut root) = event else {
        return Err(NoJobId("the event is not a JSON object"));
    };
    let Some(Value::Object(mut job)) = root.remove("CodePipeline.job") else {
        return Err(NoJobId("`CodePipeline.job` is not an object"));
    };
    let id = match job.get("id") {
        Some(Value::String(id))
            if !id.is_empty()
                && id.len() <= MAX_JOB_ID_LEN
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') =>
        {
            id.clone()
        }
        Some(Value::String(_)) => return Err(NoJobId("`id` is empty, too long or not a job id")),
        _ => return Err(NoJobId("`id` is missing or not a string")),
    };
    let data = match job.remove("data") {
        Some(data) => parse_data(data),
        None => Err("the job has no `data`".to_string()),
    };
    Ok(Job { id, data })
}

fn parse_data(data: Value) -> Result<JobData, String> {
    let Value::Object(mut data) = data else {
        return Err("the job's `data` is not an object".into());
    };
    let credentials = data.remove("artifactCredentials");
    let mut parsed: JobData = serde_json::from_value(Value::Object(data))
        .map_err(|e| format!("the job's `data` is malformed: {e}"))?;
    parsed.artifact_credentials = match credentials {
        None | Some(Value::Null) => None,
        // No serde detail: it could quote a value.
        Some(c) => Some(serde_json::from_value(c).map_err(|_| {
            "the job's `artifactCredentials` are malformed (expected accessKeyId, secretAccessKey and sessionToken strings)".to_string()
        })?),
    };
    if let Some(p) = &parsed.action_configuration.configuration.user_parameters {
        if p.len() > MAX_USER_PARAMETERS_LEN {
            return Err(format!(
                "UserParameters is {} bytes long; at most {MAX_USER_PARAMETERS_LEN} are accepted",
                p.len()
            ));
        }
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn credentials_debug_is_redacted_and_parse_errors_do_not_quote_them() {
        let job = parse(json!({"CodePipeline.job": {"id": "a-1", "data": {
            "actionConfiguration": {"configuration": {"FunctionName": "f"}},
            "artifactCredentials": {"accessKeyId": "AKIA", "secretAccessKey": "s3cr3t", "sessionToken": "t0k3n"}}}}))
        .unwrap();
        let text = format!("{job:?}");
        assert!(text.contains("AKIA"));
        assert!(
            !text.contains("s3cr3t") && !text.contains("t0k3n"),
            "{text}"
        );

        let job = parse(json!({"CodePipeline.job": {"id": "a-1", "data": {
            "actionConfiguration": {"configuration": {"FunctionName": "f"}},
            "artifactCredentials": {"accessKeyId": "AKIA", "secretAccessKey": "s3cr3t", "sessionToken": 7}}}}))
        .unwrap();
        let err = job.data.unwrap_err();
        assert!(
            err.contains("artifactCredentials") && !err.contains("s3cr3t"),
            "{err}"
        );
    }

    /// The example event of <https://docs.aws.amazon.com/lambda/latest/dg/services-codepipeline.html>
    /// (with `expirationTime` and output artifacts, which the handler ignores).
    #[test]
    fn the_lambda_guide_example_event_parses() {
        let event = json!({"CodePipeline.job": {"id": "c0d76431-b0e7-xmpl-97e3-e8ee786eb6f6",
            "accountId": "123456789012", "data": {
            "actionConfiguration": {"configuration": {"FunctionName": "my-function",
                                                      "UserParameters": "{\"KEY\": \"VALUE\"}"}},
            "inputArtifacts": [{"name": "my-pipeline-SourceArtifact",
                "revision": "e0c7xmpl2308ca3071aa7bab414de234ab52eea",
                "location": {"type": "S3", "s3Location": {"bucketName": "aws-us-west-2-123456789012-my-pipeline",
                                                          "objectKey": "my-pipeline/test-api-2/TdOSFRV"}}}],
            "outputArtifacts": [{"name": "invokeOutput", "revision": null,
                "location": {"type": "S3", "s3Location": {"bucketName": "aws-us-west-2-123456789012-my-pipeline",
                                                          "objectKey": "my-pipeline/invokeOutp/D0YHsJn"}}}],
            "artifactCredentials": {"accessKeyId": "AKIAIOSFODNN7EXAMPLE",
                "secretAccessKey": "6CGtmAa3lzWtV7a...", "sessionToken": "IQoJb3JpZ2luX2VjEA...",
                "expirationTime": 1575493418000u64}}}});
        let job = parse(event).unwrap();
        let data = job.data.unwrap();
        assert_eq!(
            data.input_artifacts[0]
                .location
                .s3_location
                .as_ref()
                .unwrap()
                .object_key,
            "my-pipeline/test-api-2/TdOSFRV"
        );
        assert_eq!(
            data.artifact_credentials.unwrap().access_key_id,
            "AKIAIOSFODNN7EXAMPLE"
        );
        assert!(data.continuation_token.is_none());
    }

    #[test]
    fn a_job_id_is_needed_to_report_anything() {
        assert!(parse(json!({"CodePipeline.job": {"data": {}}})).is_err());
        assert!(parse(json!({"CodePipeline.job": {"id": "", "data": {}}})).is_err());
        assert!(parse(json!({"CodePipeline.job": {"id": "a b"}})).is_err());
        let job = parse(json!({"CodePipeline.job": {"id": "x-1", "data": 3}})).unwrap();
        assert_eq!(job.id, "x-1");
        assert!(job.data.is_err());
    }
}
