//! Scenario 3: inbox messages the relay must refuse (not JSON, wrong shapes, absurd values, a
//! forged retry) are each dead-lettered with a reason, and none crashes the function. Only what
//! an SQS message can carry is sent: SQS refuses empty bodies, bytes that are not Unicode
//! characters, and bodies over 256 KiB (SQS developer guide, "Amazon SQS message quotas"), and
//! the relay's own test covers those bytes (`relay_core` payload tests).

use okta_relay_e2e::report;
use serde_json::{Value, json};

use crate::world::*;

/// At least 40 payloads the relay must refuse: each dead-lettered with a reason, none crashing.
fn bad_inputs() -> Vec<(&'static str, Vec<u8>)> {
    let good = event(0);
    let with = |f: &dyn Fn(&mut Value)| {
        let mut event = good.clone();
        f(&mut event);
        serde_json::to_vec(&event).unwrap()
    };
    let mut deep = String::new();
    for _ in 0..5_000 {
        deep.push('[');
    }
    let mut corpus: Vec<(&'static str, Vec<u8>)> = vec![
        ("whitespace", b"   \n".to_vec()),
        ("truncated object", b"{\"version\":\"0\",".to_vec()),
        ("bare word", b"hello".to_vec()),
        ("json null", b"null".to_vec()),
        ("json number", b"42".to_vec()),
        ("json string", b"\"event\"".to_vec()),
        ("json array", b"[1,2,3]".to_vec()),
        ("empty object", b"{}".to_vec()),
        (
            "trailing garbage",
            [serde_json::to_vec(&good).unwrap(), b"xyz".to_vec()].concat(),
        ),
        (
            "a retry that is not an object",
            br#"{"okta-relay": 1, "event": {}}"#.to_vec(),
        ),
        (
            "a retry without its routes",
            br#"{"okta-relay": {"schema": "okta-relay.retry/v1"}, "event": {}}"#.to_vec(),
        ),
        ("lone surrogate escape", br#"{"detail": "\ud800"}"#.to_vec()),
        ("invalid escape", br#"{"detail": "\q"}"#.to_vec()),
        ("deep nesting", deep.into_bytes()),
        ("nan literal", br#"{"detail": NaN}"#.to_vec()),
        ("single quotes", b"{'detail': {}}".to_vec()),
        (
            "duplicate-free but no detail",
            with(&|e| {
                e.as_object_mut().unwrap().remove("detail");
            }),
        ),
        ("detail is null", with(&|e| e["detail"] = Value::Null)),
        (
            "detail is a string",
            with(&|e| e["detail"] = json!("user.session.start")),
        ),
        ("detail is an array", with(&|e| e["detail"] = json!([]))),
        ("detail is empty", with(&|e| e["detail"] = json!({}))),
        (
            "source missing",
            with(&|e| {
                e.as_object_mut().unwrap().remove("source");
            }),
        ),
        ("source is a number", with(&|e| e["source"] = json!(7))),
        (
            "detail-type missing",
            with(&|e| {
                e.as_object_mut().unwrap().remove("detail-type");
            }),
        ),
        ("id is an object", with(&|e| e["id"] = json!({}))),
        ("time is a number", with(&|e| e["time"] = json!(1))),
        (
            "account is a list",
            with(&|e| e["account"] = json!(["123456789012"])),
        ),
        (
            "uuid missing",
            with(&|e| {
                e["detail"].as_object_mut().unwrap().remove("uuid");
            }),
        ),
        (
            "uuid is a number",
            with(&|e| e["detail"]["uuid"] = json!(12345)),
        ),
        ("uuid is empty", with(&|e| e["detail"]["uuid"] = json!(""))),
        (
            "eventType missing",
            with(&|e| {
                e["detail"].as_object_mut().unwrap().remove("eventType");
            }),
        ),
        (
            "eventType is empty",
            with(&|e| e["detail"]["eventType"] = json!("")),
        ),
        (
            "eventType is a number",
            with(&|e| e["detail"]["eventType"] = json!(3)),
        ),
        (
            "eventType is an object",
            with(&|e| e["detail"]["eventType"] = json!({"a": 1})),
        ),
        (
            "published missing",
            with(&|e| {
                e["detail"].as_object_mut().unwrap().remove("published");
            }),
        ),
        (
            "published is a number",
            with(&|e| e["detail"]["published"] = json!(1_700_000_000)),
        ),
        (
            "published is not a date",
            with(&|e| e["detail"]["published"] = json!("yesterday")),
        ),
        (
            "outcome is a string",
            with(&|e| e["detail"]["outcome"] = json!("SUCCESS")),
        ),
        (
            "actor is a string",
            with(&|e| e["detail"]["actor"] = json!("alice")),
        ),
        (
            "severity is a number",
            with(&|e| e["detail"]["severity"] = json!(5)),
        ),
        (
            "target is an object",
            with(&|e| e["detail"]["target"] = json!({"id": "x"})),
        ),
        ("detail is a number", with(&|e| e["detail"] = json!(1))),
    ];
    corpus.retain(|(_, payload)| payload.len() <= 256 * 1024);
    corpus
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scenario_3_bad_input_is_dead_lettered_with_a_reason() {
    let mut relay = Relay::start(2, 300).await;
    let corpus = bad_inputs();
    assert!(corpus.len() >= 40, "{}", corpus.len());
    let payloads: Vec<Vec<u8>> = corpus.iter().map(|(_, payload)| payload.clone()).collect();
    relay.relay_all(&payloads).await;
    relay.assert_all_running();
    let stats = relay.mapping.stats();
    let answered = stats.invocations.load(std::sync::atomic::Ordering::SeqCst)
        - stats
            .failed_invocations
            .load(std::sync::atomic::Ordering::SeqCst);
    let letters = relay.dead_letters().await;
    let logs = relay.logs();
    let rejected: Vec<&Value> = letters
        .iter()
        .filter(|l| l["kind"] == "bad_input")
        .collect();
    let logged = logs
        .lines()
        .filter(|l| l.contains("\"outcome\":\"bad_input\""))
        .count();
    report(format!(
        "scenario 3: {} malformed messages sent, {answered} invocations answered, 0 delivered, {} dead-lettered, {} lost, {logged} logged with a reason",
        corpus.len(),
        rejected.len(),
        corpus.len().saturating_sub(rejected.len()),
    ));
    let accepted: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("\"outcome\"") && !l.contains("\"outcome\":\"bad_input\""))
        .collect();
    assert_eq!(
        rejected.len(),
        corpus.len(),
        "every payload is dead-lettered once; accepted: {accepted:?}"
    );
    assert_eq!(logged, corpus.len(), "every payload logged: {logs}");
    for letter in &rejected {
        assert!(!letter["reason"].as_str().unwrap().is_empty(), "{letter}");
    }
    assert!(
        relay.workflows.received().is_empty(),
        "nothing malformed was delivered"
    );
}
