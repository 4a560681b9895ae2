//! Runs the data-driven conformance cases in `tests/conformance/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

use std::path::Path;

use event_pattern::{Limits, Pattern, PatternSet};
use serde_json::Value;

fn load(name: &str) -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/conformance")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn case_files() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json") && n != "invalid.json")
        .collect();
    names.sort();
    names
}

/// Returns the number of cases checked.
fn check_matching_file(name: &str, failures: &mut Vec<String>) -> usize {
    let mut count = 0;
    for (i, group) in load(name).iter().enumerate() {
        let source = group["source"].as_str().unwrap();
        assert!(!source.is_empty(), "{name} group {i} has no source");
        let pattern_text = group["pattern"].to_string();
        let pattern = Pattern::parse_with_limits(&pattern_text, Limits::RELAY_ROUTE)
            .unwrap_or_else(|e| panic!("{name} group {i} ({source}): {e}"));
        let set: PatternSet<usize> = [(i, pattern.clone())].into_iter().collect();
        for (expected, key) in [(true, "match"), (false, "no_match")] {
            for event in group[key].as_array().into_iter().flatten() {
                count += 1;
                let bytes = event.to_string();
                let by_bytes = pattern.matches(bytes.as_bytes()).unwrap();
                let by_value = pattern.matches_value(event);
                let by_set = set.matching(bytes.as_bytes()).unwrap() == vec![&i];
                if (by_bytes, by_value, by_set) != (expected, expected, expected) {
                    failures.push(format!(
                        "{name} group {i} ({source}): pattern {pattern_text} event {bytes}: expected {expected}, bytes={by_bytes} value={by_value} set={by_set}"
                    ));
                }
            }
        }
    }
    count
}

#[test]
fn conformance_cases_all_pass_and_number_at_least_300() {
    let mut failures = Vec::new();
    let mut total = 0;
    for name in case_files() {
        total += check_matching_file(&name, &mut failures);
    }
    total += check_invalid_patterns(&mut failures);
    assert!(
        failures.is_empty(),
        "{} failing cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(total >= 300, "only {total} conformance cases");
    println!("conformance: {total} cases passed");
}

fn check_invalid_patterns(failures: &mut Vec<String>) -> usize {
    let cases = load("invalid.json");
    for case in &cases {
        let source = case["source"].as_str().unwrap();
        let text = match case.get("text") {
            Some(Value::String(text)) => text.clone(),
            _ => case["pattern"].to_string(),
        };
        let want_path = case["error_path"].as_str().unwrap();
        let want_text = case["error_contains"].as_str().unwrap();
        match Pattern::parse(&text) {
            Ok(_) => failures.push(format!("invalid.json ({source}): {text} was accepted")),
            Err(e) => {
                if e.path != want_path || !e.to_string().contains(want_text) {
                    failures.push(format!(
                        "invalid.json ({source}): {text}: got `{e}` at {}, want `{want_text}` at {want_path}",
                        e.path
                    ));
                }
            }
        }
    }
    cases.len()
}
