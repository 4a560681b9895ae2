//! Property test: the engine against a deliberately simple reference matcher written here.
//!
//! The reference works on a fully parsed `serde_json::Value`, with plain loops and no index, so
//! it exercises the sparse raw-byte path and the pattern-set index of the real engine.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

use event_pattern::{Pattern, PatternSet};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

const KEYS: [&str; 3] = ["a", "b", "c"];
const WORDS: [&str; 4] = ["", "x", "xy", "y"];

/// One match condition of a leaf, in a form both engines can read.
#[derive(Debug, Clone)]
enum Cond {
    Exact(Value),
    Prefix(&'static str),
    AnythingBut(Vec<&'static str>),
    Range(f64, f64),
    Exists(bool),
}

#[derive(Debug, Clone)]
enum Pat {
    Leaf(Vec<Cond>),
    Object(Vec<(&'static str, Pat)>),
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-3i32..4).prop_map(|n| json!(n)),
        (-3i32..4).prop_map(|n| json!(f64::from(n) + 0.5)),
        prop::sample::select(&WORDS[..]).prop_map(|w| json!(w)),
    ]
}

fn event_value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(&KEYS[..]), inner), 0..3).prop_map(
                |fields| Value::Object(
                    fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
                )
            ),
        ]
    })
}

fn event() -> impl Strategy<Value = Value> {
    prop::collection::vec((prop::sample::select(&KEYS[..]), event_value()), 0..4).prop_map(
        |fields| Value::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()),
    )
}

fn cond() -> impl Strategy<Value = Cond> {
    prop_oneof![
        scalar().prop_map(Cond::Exact),
        prop::sample::select(&WORDS[..]).prop_map(Cond::Prefix),
        prop::collection::vec(prop::sample::select(&WORDS[..]), 1..3).prop_map(Cond::AnythingBut),
        (-3i32..3, 0i32..3)
            .prop_map(|(lo, width)| Cond::Range(f64::from(lo), f64::from(lo + width) + 0.5)),
        any::<bool>().prop_map(Cond::Exists),
    ]
}

fn pat() -> impl Strategy<Value = Pat> {
    let leaf = prop::collection::vec(cond(), 1..3).prop_map(Pat::Leaf);
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop::collection::btree_map(prop::sample::select(&KEYS[..]), inner, 1..3)
            .prop_map(|fields| Pat::Object(fields.into_iter().collect()))
    })
}

fn root_pat() -> impl Strategy<Value = Vec<(&'static str, Pat)>> {
    prop::collection::btree_map(prop::sample::select(&KEYS[..]), pat(), 1..3)
        .prop_map(|m| m.into_iter().collect())
}

fn to_json(fields: &[(&str, Pat)]) -> Value {
    let mut object = Map::new();
    for (key, pat) in fields {
        let value = match pat {
            Pat::Object(nested) => to_json(nested),
            Pat::Leaf(conds) => Value::Array(
                conds
                    .iter()
                    .map(|c| match c {
                        Cond::Exact(v) => v.clone(),
                        Cond::Prefix(p) => json!({"prefix": p}),
                        Cond::AnythingBut(list) => json!({"anything-but": list}),
                        Cond::Range(lo, hi) => json!({"numeric": [">=", lo, "<", hi]}),
                        Cond::Exists(b) => json!({"exists": b}),
                    })
                    .collect(),
            ),
        };
        object.insert((*key).to_owned(), value);
    }
    Value::Object(object)
}

// ---- the reference matcher ----

/// Scalars at a leaf position, looking through nested arrays; objects are not leaf values.
fn leaf_values(value: Option<&Value>) -> Vec<&Value> {
    let mut out = Vec::new();
    let mut stack: Vec<&Value> = value.into_iter().collect();
    while let Some(v) = stack.pop() {
        match v {
            Value::Array(items) => stack.extend(items.iter()),
            Value::Object(_) => {}
            scalar => out.push(scalar),
        }
    }
    out
}

fn cond_holds(cond: &Cond, value: &Value) -> bool {
    match (cond, value) {
        (Cond::Exact(Value::Number(a)), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Cond::Exact(a), b) => a == b,
        (Cond::Prefix(p), Value::String(s)) => s.starts_with(p),
        (Cond::AnythingBut(list), Value::String(s)) => !list.contains(&s.as_str()),
        (Cond::AnythingBut(_), _) => true,
        (Cond::Range(lo, hi), Value::Number(n)) => {
            let n = n.as_f64().unwrap();
            *lo <= n && n < *hi
        }
        _ => false,
    }
}

fn reference_leaf(conds: &[Cond], value: Option<&Value>) -> bool {
    let values = leaf_values(value);
    conds.iter().any(|c| match c {
        Cond::Exists(want) => values.is_empty() != *want,
        c => values.iter().any(|v| cond_holds(c, v)),
    })
}

/// Elements an object pattern is tried against: the value itself, or the non-array items of
/// an array (flattened). An empty array is tried as if the field were absent.
fn candidates(value: Option<&Value>) -> Vec<Option<&Value>> {
    match value {
        Some(Value::Array(_)) => {
            let mut flat = Vec::new();
            let mut stack = vec![value.unwrap()];
            while let Some(v) = stack.pop() {
                match v {
                    Value::Array(items) => stack.extend(items.iter()),
                    other => flat.push(Some(other)),
                }
            }
            if flat.is_empty() { vec![None] } else { flat }
        }
        other => vec![other],
    }
}

fn reference_object(fields: &[(&str, Pat)], value: Option<&Value>) -> bool {
    candidates(value).into_iter().any(|element| {
        fields.iter().all(|(key, pat)| {
            let child = element
                .and_then(|e| e.as_object())
                .and_then(|o| o.get(*key));
            match pat {
                Pat::Leaf(conds) => reference_leaf(conds, child),
                Pat::Object(nested) => reference_object(nested, child),
            }
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn engine_agrees_with_reference(fields in root_pat(), event in event()) {
        let pattern_json = to_json(&fields);
        let pattern = Pattern::parse(&pattern_json.to_string()).unwrap();
        let expected = reference_object(&fields, Some(&event));
        let bytes = event.to_string();
        prop_assert_eq!(pattern.matches(bytes.as_bytes()).unwrap(), expected, "pattern {} event {}", pattern_json, bytes);
        prop_assert_eq!(pattern.matches_value(&event), expected);
    }

    #[test]
    fn pattern_set_agrees_with_reference(patterns in prop::collection::vec(root_pat(), 1..6), event in event()) {
        let set: PatternSet<usize> = patterns
            .iter()
            .enumerate()
            .map(|(i, fields)| (i, Pattern::parse(&to_json(fields).to_string()).unwrap()))
            .collect();
        let expected: Vec<usize> = patterns
            .iter()
            .enumerate()
            .filter(|(_, fields)| reference_object(fields, Some(&event)))
            .map(|(i, _)| i)
            .collect();
        let got: Vec<usize> = set.matching(event.to_string().as_bytes()).unwrap().into_iter().copied().collect();
        prop_assert_eq!(got, expected);
    }
}
