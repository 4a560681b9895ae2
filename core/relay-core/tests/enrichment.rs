#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

//! Snapshots of the `relay` object for the bundled sample events and for sparse and odd ones.
//! Review changes with `cargo insta review`.

use chrono::{DateTime, Utc};
use okta::{LogEvent, OrgUrl};
use relay_core::EnrichContext;
use relay_core::enrich::{enrich, to_object};
use relay_core::envelope::read_envelope;
use serde_json::{Value, json};

const SAMPLES: &str = include_str!("../../../samples/eventbridge-events.jsonl");

fn now() -> DateTime<Utc> {
    "2026-11-24T09:20:00.250Z".parse().unwrap()
}

fn enriched(envelope_text: &str, org: Option<&OrgUrl>) -> Value {
    let envelope = read_envelope(envelope_text.as_bytes()).unwrap().envelope;
    let event = LogEvent::from_value(&envelope.detail).unwrap();
    Value::Object(to_object(&enrich(
        &envelope,
        &event,
        &EnrichContext { org, now: now() },
    )))
}

fn envelope_around(detail: Value, source: &str) -> String {
    json!({
        "version": "0", "id": "11111111-2222-3333-4444-555555555555", "detail-type": "SystemLog",
        "source": source, "account": "123456789012", "time": "2026-11-24T09:15:02Z",
        "region": "eu-west-1", "resources": [], "detail": detail
    })
    .to_string()
}

#[test]
fn every_sample_event() {
    for (index, line) in SAMPLES.lines().enumerate() {
        let relay = enriched(line, None);
        let name = format!(
            "sample_{index:02}_{}",
            relay["eventType"].as_str().unwrap().replace('.', "_")
        );
        insta::assert_json_snapshot!(name, relay);
    }
}

#[test]
fn minimal_event_has_only_what_it_carries() {
    let detail = json!({"uuid": "min-1", "eventType": "user.session.end", "published": "2026-11-24T09:15:02Z"});
    insta::assert_json_snapshot!(enriched(
        &envelope_around(detail, "aws.partner/okta.com/acme/stream"),
        None
    ));
}

#[test]
fn configured_org_wins_over_the_source_and_unknown_sources_have_no_link() {
    let detail = json!({"uuid": "org-1", "eventType": "app.oauth2.token.revoke", "published": "2026-11-24T09:15:02Z"});
    let org = OrgUrl::parse("https://acme.oktapreview.com").unwrap();
    let relay = enriched(
        &envelope_around(detail.clone(), "aws.partner/okta.com/acme/stream"),
        Some(&org),
    );
    assert_eq!(relay["orgHost"], "acme.oktapreview.com");
    assert!(
        relay["systemLogUrl"]
            .as_str()
            .unwrap()
            .starts_with("https://acme-admin.oktapreview.com/report/system_log_2?search=org-1")
    );
    let relay = enriched(&envelope_around(detail, "custom.replay"), None);
    assert!(relay.get("orgHost").is_none() && relay.get("systemLogUrl").is_none());
}

#[test]
fn security_data_only_in_log_only_json_and_odd_debug_values() {
    let detail = json!({
        "uuid": "risk-1", "eventType": "user.session.start", "published": "2026-11-24T09:15:04Z",
        "actor": {"id": "00u1", "type": "User"},
        "target": [{"id": "a", "type": "AppInstance"}, {"id": "b"}, {"id": "c", "type": "AppInstance"}],
        "client": {"ipAddress": null, "geographicalContext": {"country": "Norway"}},
        "debugContext": {"debugData": {
            "logOnlySecurityData": "{\"risk\":{\"level\":\"MEDIUM\",\"reasons\":\"New Device, New IP\"},\"behaviors\":{\"New IP\":\"POSITIVE\",\"count\":3}}",
            "threatSuspected": "maybe",
            "threatDetections": "not json",
            "risk": 42
        }}
    });
    insta::assert_json_snapshot!(enriched(
        &envelope_around(detail, "aws.partner/okta.com/acme/stream"),
        None
    ));
}
