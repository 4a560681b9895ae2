//! Amazon EventBridge event patterns.
