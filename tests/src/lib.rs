//! Shared harness for the end-to-end suite.
