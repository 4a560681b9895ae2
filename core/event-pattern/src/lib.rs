//! Amazon EventBridge event patterns: parse once, match many, on raw JSON bytes. No I/O.
//!
//! ```
//! use event_pattern::Pattern;
//!
//! let pattern = Pattern::parse(r#"{"detail": {"eventType": [{"prefix": "user.session."}]}}"#)?;
//! assert!(pattern.matches(br#"{"detail": {"eventType": "user.session.start"}}"#)?);
//! assert!(!pattern.matches(br#"{"detail": {"eventType": "app.oauth2.token.grant"}}"#)?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The semantics follow EventBridge; where its documentation is silent, this crate's README
//! says what is done and why, and `tests/conformance/` holds a case for each decision.

mod error;
mod eval;
mod matcher;
mod parse;
mod set;
mod sparse;
pub mod strict_json;

use std::str::FromStr;

pub use error::{EventError, PatternError, Reason};
pub use parse::Limits;
pub use set::PatternSet;

use parse::Fields;
use sparse::PathTrie;

/// A compiled EventBridge event pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    root: Fields,
    /// The fields this pattern reads, so matching raw bytes can skip the rest.
    trie: PathTrie,
}

impl Pattern {
    /// Parses a pattern under EventBridge's rule limits ([`Limits::EVENTBRIDGE_RULE`]).
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        Self::parse_with_limits(text, Limits::default())
    }

    pub fn parse_with_limits(text: &str, limits: Limits) -> Result<Self, PatternError> {
        parse::compile(text, limits).map(Self::from_root)
    }

    /// Compiles a pattern that is already a JSON value (e.g. embedded in a config file).
    pub fn from_value(value: &serde_json::Value, limits: Limits) -> Result<Self, PatternError> {
        parse::compile_value(value, limits).map(Self::from_root)
    }

    fn from_root(root: Fields) -> Self {
        let mut trie = PathTrie::default();
        trie.add(&root);
        Pattern { root, trie }
    }

    /// Whether the event (raw JSON bytes of an object) matches. Only the fields the pattern
    /// names are materialised; the rest of the event is skipped as it is read.
    pub fn matches(&self, event: &[u8]) -> Result<bool, EventError> {
        let root = sparse::parse(event, &self.trie)?;
        Ok(eval::fields_match(
            &self.root,
            Some(&root),
            &matcher::Folds::default(),
        ))
    }

    /// Reads an event the way every okta-relay path reads one before matching: one JSON
    /// object, duplicate keys refused ([`strict_json`]), every field as written.
    pub fn read_event(bytes: &[u8]) -> Result<serde_json::Value, EventError> {
        let value = strict_json::from_slice(bytes)?;
        if value.is_object() {
            Ok(value)
        } else {
            Err(EventError::NotAnObject(error::json_kind(&value)))
        }
    }

    /// Whether an already-parsed event matches. An event that is not a JSON object never does.
    pub fn matches_value(&self, event: &serde_json::Value) -> bool {
        event.is_object() && eval::fields_match(&self.root, Some(event), &matcher::Folds::default())
    }
}

impl FromStr for Pattern {
    type Err = PatternError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Pattern::parse(text)
    }
}
