//! Evaluates a compiled pattern against an event, parsed fully (`serde_json::Value`) or sparsely.
//!
//! Array consistency (as EventBridge's engine, aws/event-ruler, does it): when a nested pattern
//! object meets an array of objects in the event, one array element must satisfy the whole nested
//! pattern; fields from different elements are never combined.

use crate::matcher::{Folds, Matcher, Scalar};
use crate::parse::{Fields, Node};

/// Read access to a JSON value, implemented for full and sparse event trees.
pub(crate) trait Json<'a>: Copy + 'a {
    fn scalar(self) -> Option<Scalar<'a>>;
    fn elements(self) -> Option<impl Iterator<Item = Self>>;
    fn get(self, key: &str) -> Option<Self>;
}

impl<'a> Json<'a> for &'a serde_json::Value {
    fn scalar(self) -> Option<Scalar<'a>> {
        use serde_json::Value;
        match self {
            Value::Null => Some(Scalar::Null),
            Value::Bool(b) => Some(Scalar::Bool(*b)),
            Value::Number(n) => n.as_f64().map(Scalar::Number),
            Value::String(s) => Some(Scalar::Str(s)),
            Value::Array(_) | Value::Object(_) => None,
        }
    }

    fn elements(self) -> Option<impl Iterator<Item = Self>> {
        self.as_array().map(|items| items.iter())
    }

    fn get(self, key: &str) -> Option<Self> {
        self.as_object().and_then(|object| object.get(key))
    }
}

/// Calls `pred` on every non-array value reachable through nested arrays of `value` (or on
/// `value` itself when it is not an array) until it returns true. `visited` records whether
/// there was any such value, so that empty arrays can count as absent.
fn any_element<'a, J: Json<'a>>(
    value: J,
    visited: &mut bool,
    pred: &mut impl FnMut(J) -> bool,
) -> bool {
    match value.elements() {
        Some(items) => {
            for item in items {
                if any_element(item, visited, pred) {
                    return true;
                }
            }
            false
        }
        None => {
            *visited = true;
            pred(value)
        }
    }
}

/// Whether `at` satisfies `fields`. `folds` lives for one evaluation of one event (one pattern
/// or a whole set), so each of the event's strings is case-folded at most once.
pub(crate) fn fields_match<'a, J: Json<'a>>(fields: &Fields, at: Option<J>, folds: &Folds) -> bool {
    match at {
        Some(value) if value.elements().is_some() => {
            let mut visited = false;
            any_element(value, &mut visited, &mut |element| {
                fields_match_here(fields, Some(element), folds)
            }) || (!visited && fields_match_here::<J>(fields, None, folds))
        }
        _ => fields_match_here(fields, at, folds),
    }
}

fn fields_match_here<'a, J: Json<'a>>(fields: &Fields, at: Option<J>, folds: &Folds) -> bool {
    fields.fields.iter().all(|(key, node)| {
        let child = at.and_then(|value| value.get(key));
        match node {
            Node::Object(nested) => fields_match(nested, child, folds),
            Node::Leaf(matchers) => leaf_matches(matchers, child, folds),
        }
    }) && (fields.any_of.is_empty()
        || fields
            .any_of
            .iter()
            .any(|alternative| fields_match_here(alternative, at, folds)))
}

fn leaf_matches<'a, J: Json<'a>>(matchers: &[Matcher], at: Option<J>, folds: &Folds) -> bool {
    matchers.iter().any(|matcher| match matcher {
        Matcher::Exists(wanted) => has_leaf_value(at) == *wanted,
        _ => at.is_some_and(|value| {
            any_element(value, &mut false, &mut |element| {
                element
                    .scalar()
                    .is_some_and(|scalar| matcher.matches(scalar, folds))
            })
        }),
    })
}

/// A field "exists" when it holds a scalar (null included), directly or inside arrays. An
/// object is not a leaf, and an empty array holds no value.
fn has_leaf_value<'a, J: Json<'a>>(at: Option<J>) -> bool {
    at.is_some_and(|value| {
        any_element(value, &mut false, &mut |element| element.scalar().is_some())
    })
}
