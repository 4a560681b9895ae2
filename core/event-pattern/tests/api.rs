//! Behaviour of the public API beyond the conformance data: limits, event errors, pattern sets.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

use event_pattern::{EventError, Limits, Pattern, PatternSet, Reason};

#[test]
fn pattern_over_the_eventbridge_size_quota_is_rejected_but_fits_a_relay_route() {
    let values: Vec<String> = (0..300).map(|i| format!("\"user.event.{i}\"")).collect();
    let text = format!("{{\"detail\": {{\"eventType\": [{}]}}}}", values.join(","));
    assert!(text.len() > 2048);
    let err = Pattern::parse(&text).unwrap_err();
    assert_eq!(err.path, "$");
    assert!(
        matches!(err.reason, Reason::TooLarge { max: 2048, .. }),
        "{err}"
    );
    assert!(Pattern::parse_with_limits(&text, Limits::RELAY_ROUTE).is_ok());
}

#[test]
fn pattern_nested_too_deep_names_the_path() {
    let mut text = String::from("[\"x\"]");
    for _ in 0..40 {
        text = format!("{{\"a\": {text}}}");
    }
    let err = Pattern::parse_with_limits(&text, Limits::RELAY_ROUTE).unwrap_err();
    assert!(matches!(err.reason, Reason::TooDeep(32)), "{err}");
    assert!(err.path.starts_with("a.a.a."), "{}", err.path);
}

#[test]
fn from_value_applies_the_same_rules_as_parse() {
    let value = serde_json::json!({"detail": {"eventType": "not-an-array"}});
    let err = Pattern::from_value(&value, Limits::RELAY_ROUTE).unwrap_err();
    assert_eq!(err.path, "detail.eventType");
    assert_eq!(
        err.to_string(),
        "invalid event pattern at detail.eventType: a field's match values must be an array, e.g. [\"value\"], not a string"
    );
}

#[test]
fn event_that_is_not_json_is_an_error_not_a_non_match() {
    let pattern = Pattern::parse(r#"{"a": ["b"]}"#).unwrap();
    assert!(matches!(
        pattern.matches(b"{\"a\": "),
        Err(EventError::NotJson(_))
    ));
    assert!(matches!(
        pattern.matches(b"{\"a\": \"b\"} trailing"),
        Err(EventError::NotJson(_))
    ));
    assert!(matches!(
        pattern.matches(b"\"\\ud800\""),
        Err(EventError::NotJson(_))
    ));
}

#[test]
fn event_that_is_not_an_object_is_an_error() {
    let pattern = Pattern::parse(r#"{"a": [{"exists": false}]}"#).unwrap();
    for (event, kind) in [
        ("[]", "an array"),
        ("5", "a number"),
        ("null", "null"),
        ("\"s\"", "a string"),
    ] {
        match pattern.matches(event.as_bytes()) {
            Err(EventError::NotAnObject(found)) => assert_eq!(found, kind),
            other => panic!("{event}: {other:?}"),
        }
        let value: serde_json::Value = serde_json::from_str(event).unwrap();
        assert!(!pattern.matches_value(&value));
    }
}

#[test]
fn deeply_nested_event_is_rejected_without_overflowing_the_stack() {
    let event = format!("{{\"a\": {}{}}}", "[".repeat(100_000), "]".repeat(100_000));
    let pattern = Pattern::parse(r#"{"a": ["x"]}"#).unwrap();
    assert!(matches!(
        pattern.matches(event.as_bytes()),
        Err(EventError::NotJson(_))
    ));
}

#[test]
fn skipped_fields_are_still_validated_as_json() {
    let pattern = Pattern::parse(r#"{"a": ["x"]}"#).unwrap();
    assert!(
        pattern
            .matches(br#"{"a": "x", "b": [1, 2, {"c": "\u00e9"}]}"#)
            .unwrap()
    );
    assert!(pattern.matches(br#"{"a": "x", "b": [1, 2,, 3]}"#).is_err());
}

fn route_set() -> PatternSet<&'static str> {
    [
        ("sessions", r#"{"detail": {"eventType": ["user.session.start", "user.session.end"]}}"#),
        ("failures", r#"{"detail": {"outcome": {"result": ["FAILURE"]}}}"#),
        ("admins", r#"{"detail": {"eventType": [{"prefix": "user.account."}], "actor": {"type": ["User"]}}}"#),
        ("starts", r#"{"detail": {"eventType": ["user.session.start"], "outcome": {"result": ["SUCCESS"]}}}"#),
        ("everything", r#"{"source": [{"prefix": ""}]}"#),
    ]
    .into_iter()
    .map(|(name, text)| (name, Pattern::parse(text).unwrap()))
    .collect()
}

#[test]
fn pattern_set_returns_every_matching_key_in_insertion_order() {
    let set = route_set();
    let event = br#"{"source": "aws.partner/okta.com/x/y", "detail": {"eventType": "user.session.start", "outcome": {"result": "FAILURE"}, "actor": {"type": "User"}}}"#;
    assert_eq!(
        set.matching(event).unwrap(),
        vec![&"sessions", &"failures", &"everything"]
    );
    let event = br#"{"source": "s", "detail": {"eventType": "user.account.lock", "outcome": {"result": "SUCCESS"}, "actor": {"type": "User"}}}"#;
    assert_eq!(set.matching(event).unwrap(), vec![&"admins", &"everything"]);
    let event = br#"{"detail": {"eventType": ["x", "user.session.start"], "outcome": {"result": "SUCCESS"}}}"#;
    assert_eq!(set.matching(event).unwrap(), vec![&"sessions", &"starts"]);
}

#[test]
fn pattern_set_agrees_with_each_pattern_alone() {
    let set = route_set();
    let events = [
        r#"{"detail": {"eventType": "user.session.end"}}"#,
        r#"{"source": "a", "detail": [{"eventType": "user.session.start"}, {"outcome": {"result": "SUCCESS"}}]}"#,
        r#"{"detail": {"eventType": "user.account.unlock", "actor": [{"type": "SystemPrincipal"}, {"type": "User"}]}}"#,
        r#"{}"#,
    ];
    for event in events {
        let alone: Vec<&&str> = set
            .iter()
            .filter(|(_, p)| p.matches(event.as_bytes()).unwrap())
            .map(|(k, _)| k)
            .collect();
        assert_eq!(set.matching(event.as_bytes()).unwrap(), alone, "{event}");
        let value: serde_json::Value = serde_json::from_str(event).unwrap();
        assert_eq!(set.matching_value(&value), alone, "{event}");
    }
}

#[test]
fn empty_pattern_set_matches_nothing_but_still_validates_the_event() {
    let set: PatternSet<u8> = PatternSet::new();
    assert!(set.is_empty());
    assert!(set.matching(br#"{"a": 1}"#).unwrap().is_empty());
    assert!(set.matching(b"[").is_err());
}
