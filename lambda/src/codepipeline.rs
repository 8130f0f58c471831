//! CodePipeline Invoke (Lambda) jobs. (Skeleton: filled in by the integrations work.)

use serde_json::Value;

use crate::{HandlerError, Lambda};

pub async fn handle(_lambda: &Lambda, _event: Value) -> Result<Value, HandlerError> {
    Err(HandlerError::UnknownEvent(
        "CodePipeline jobs are not handled yet".into(),
    ))
}
