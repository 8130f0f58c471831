//! A loopback implementation of the AWS Lambda Runtime API for driving the real `shipgate-lambda` binary. (Filled in next.)
