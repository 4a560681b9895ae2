use thiserror::Error;

/// A pattern EventBridge would reject, with the JSON path of the offending part.
///
/// Mirrors EventBridge's `InvalidEventPatternException`: the message names where the problem is
/// (`detail.eventType[1].prefix`) and what to change.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid event pattern at {path}: {reason}")]
pub struct PatternError {
    /// Dotted JSON path inside the pattern, `$` for the pattern itself.
    pub path: String,
    pub reason: Reason,
}

/// Why a pattern is invalid. Each message says what EventBridge expects instead.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Reason {
    #[error("not valid JSON ({0}); an event pattern is a JSON object")]
    NotJson(String),
    #[error("{0}")]
    DuplicateKey(String),
    #[error("an event pattern must be a JSON object, not {0}")]
    NotAnObject(&'static str),
    #[error("the pattern has no fields; name at least one field to match")]
    EmptyObject,
    #[error("a field's match values must be an array, e.g. [\"value\"], not {0}")]
    LeafNotArray(&'static str),
    #[error("empty arrays are not allowed; list at least one match value")]
    EmptyArray,
    #[error("a match value cannot be an array; flatten it into the enclosing list")]
    NestedArray,
    #[error(
        "unknown operator `{0}`; expected one of prefix, suffix, equals-ignore-case, wildcard, anything-but, numeric, exists, cidr"
    )]
    UnknownOperator(String),
    #[error("an operator object must hold exactly one operator, found {0}")]
    OperatorCount(usize),
    #[error("`{operator}` takes {expected}, not {found}")]
    WrongOperandType {
        operator: &'static str,
        expected: &'static str,
        found: &'static str,
    },
    #[error("`anything-but` lists must be all strings or all numbers")]
    MixedAnythingBut,
    #[error("`{0}` cannot be nested inside `anything-but`")]
    NotAllowedInAnythingBut(String),
    #[error("`{0}` must not be empty")]
    EmptyOperand(&'static str),
    #[error("numeric: {0}")]
    Numeric(&'static str),
    #[error("numeric range can never match: lower bound {lower} is above upper bound {upper}")]
    EmptyRange { lower: String, upper: String },
    #[error(
        "invalid CIDR `{0}`; expected an IPv4 or IPv6 network such as 10.0.0.0/24 or 2001:db8::/32"
    )]
    Cidr(String),
    #[error("wildcard `{0}` has consecutive `*`, which EventBridge rejects")]
    ConsecutiveWildcards(String),
    #[error("wildcard `{0}`: a backslash may only escape `*` or `\\`")]
    BadWildcardEscape(String),
    #[error("`$or` takes an array of at least two pattern objects")]
    BadOr,
    #[error("the pattern is {len} characters, over the limit of {max}")]
    TooLarge { len: usize, max: usize },
    #[error("the pattern nests deeper than {0} levels")]
    TooDeep(usize),
}

/// An event that could not be matched at all (as opposed to one that simply does not match).
#[derive(Debug, Error)]
pub enum EventError {
    #[error("event is not valid JSON: {0}")]
    NotJson(#[from] serde_json::Error),
    #[error("event must be a JSON object, not {0}")]
    NotAnObject(&'static str),
}

pub(crate) fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}
