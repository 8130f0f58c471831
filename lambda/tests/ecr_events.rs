//! EventBridge ECR events → quarantine, against moto. (Filled in next.)
