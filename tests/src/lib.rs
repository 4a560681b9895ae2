//! Shared harness for the end-to-end suite and the adapters' tests: real protocol peers on
//! 127.0.0.1, each started on a free port and stopped when dropped.

pub mod moto;
