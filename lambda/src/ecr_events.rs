//! EventBridge ECR push/scan and Inspector2 events → quarantine. (Skeleton.)

use serde_json::Value;

use crate::{HandlerError, Lambda};

pub async fn handle(_lambda: &Lambda, _event: Value) -> Result<Value, HandlerError> {
    Err(HandlerError::UnknownEvent(
        "ECR events are not handled yet".into(),
    ))
}
