//! Shared harness for the end-to-end suite, the adapters' tests and the Lambda benchmarks: real
//! protocol peers on 127.0.0.1, each started on a free port and stopped when dropped.

pub mod endpoint;
pub mod moto;
pub mod runtime_api;
