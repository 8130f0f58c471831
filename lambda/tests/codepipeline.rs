//! CodePipeline jobs through the real shipgate-lambda binary. (Filled in next.)
