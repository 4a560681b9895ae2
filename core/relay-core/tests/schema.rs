#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

//! The published JSON Schema (docs/routes.schema.json) and the loader agree: the example passes
//! both, and each broken table is refused by both.

use relay_core::{LoadOptions, RouteTable};
use serde_json::{Value, json};

fn schema() -> jsonschema::Validator {
    let schema: Value =
        serde_json::from_str(include_str!("../../../docs/routes.schema.json")).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

fn example() -> Value {
    serde_json::from_str(include_str!("../../../infra/routes.example.json")).unwrap()
}

#[test]
fn example_is_valid_for_schema_and_loader() {
    let example = example();
    let errors: Vec<String> = schema()
        .iter_errors(&example)
        .map(|error| error.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    RouteTable::from_json(&example.to_string(), LoadOptions::default()).unwrap();
}

/// What is broken, and how to break the example that way.
type Breakage = (&'static str, Box<dyn Fn(&mut Value)>);

#[test]
fn broken_tables_are_refused_by_both() {
    let breakages: Vec<Breakage> = vec![
        (
            "unknown top-level field",
            Box::new(|table| table["extra"] = json!(1)),
        ),
        (
            "wrong version",
            Box::new(|table| table["version"] = json!(2)),
        ),
        ("no routes", Box::new(|table| table["routes"] = json!([]))),
        (
            "missing endpoint",
            Box::new(|table| {
                drop(
                    table["routes"][0]
                        .as_object_mut()
                        .unwrap()
                        .remove("endpoint"),
                )
            }),
        ),
        (
            "http endpoint",
            Box::new(|table| table["routes"][0]["endpoint"] = json!("http://example.com/x")),
        ),
        (
            "bad name",
            Box::new(|table| table["routes"][0]["name"] = json!("-leading-dash")),
        ),
        (
            "unknown scheme",
            Box::new(|table| table["routes"][0]["auth"]["scheme"] = json!("basic")),
        ),
        (
            "two token sources",
            Box::new(|table| table["routes"][0]["auth"]["tokenEnv"] = json!("TOKEN")),
        ),
        (
            "no token source",
            Box::new(|table| table["routes"][0]["auth"] = json!({"scheme": "header"})),
        ),
        (
            "none with token",
            Box::new(|table| table["routes"][0]["auth"]["scheme"] = json!("none")),
        ),
        (
            "field outside payload",
            Box::new(|table| table["routes"][0]["fields"] = json!(["actor.id"])),
        ),
        (
            "timeout too short",
            Box::new(|table| table["routes"][0]["timeoutMs"] = json!(10)),
        ),
        (
            "pattern not an object",
            Box::new(|table| table["routes"][0]["pattern"] = json!("user.*")),
        ),
    ];
    let schema = schema();
    for (what, breakage) in breakages {
        let mut table = example();
        breakage(&mut table);
        assert!(!schema.is_valid(&table), "schema accepted: {what}");
        assert!(
            RouteTable::from_json(&table.to_string(), LoadOptions::default()).is_err(),
            "loader accepted: {what}"
        );
    }
}
