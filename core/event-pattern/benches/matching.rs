//! Matching cost per Okta-sized event against route tables of 1 to 1,000 patterns, beside the
//! baseline of merely parsing the same event into a `serde_json::Value`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // bench code

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use event_pattern::{Limits, Pattern, PatternSet};
use serde_json::{Value, json};

const SAMPLES: &str = include_str!("../../../samples/eventbridge-events.jsonl");

/// A 2.7 KB sign-in failure, and the same event grown to about 8 KB with more targets, as a
/// group-membership change with many members looks.
fn events() -> Vec<(String, Vec<u8>)> {
    let small: Value = serde_json::from_str(SAMPLES.lines().nth(1).unwrap()).unwrap();
    let mut large = small.clone();
    let targets: Vec<Value> = (0..26)
        .map(|i| json!({"id": format!("00u{i:017}"), "type": "User", "alternateId": format!("member{i}@example.com"), "displayName": format!("Member {i}"), "detailEntry": null}))
        .collect();
    large["detail"]["target"] = Value::Array(targets);
    [small, large]
        .into_iter()
        .map(|event| {
            let bytes = serde_json::to_vec(&event).unwrap();
            (format!("{}B", bytes.len()), bytes)
        })
        .collect()
}

/// A route table shaped like real ones: most routes key on event types, some filter on
/// outcome, risk or network, and one in ten has no exact event-type anchor at all.
fn route_table(size: usize) -> PatternSet<usize> {
    const TYPES: [&str; 6] = [
        "user.session.start",
        "user.account.lock",
        "user.authentication.sso",
        "group.user_membership.add",
        "policy.evaluate_sign_on",
        "security.threat.detected",
    ];
    (0..size)
        .map(|i| {
            let event_type = if i < TYPES.len() { TYPES[i].to_owned() } else { format!("custom.event.type{i}") };
            let pattern = match i % 10 {
                0 => json!({"source": [{"prefix": "aws.partner/okta.com/"}], "detail": {"severity": [{"anything-but": ["DEBUG", "INFO"]}], "client": {"ipAddress": [{"cidr": format!("203.0.{}.0/24", i % 256)}]}}}),
                1 => json!({"detail": {"eventType": [event_type], "outcome": {"result": ["FAILURE", "DENY"]}}}),
                2 => json!({"detail": {"eventType": [event_type, "user.session.end"], "debugContext": {"debugData": {"threatSuspected": ["true"]}}}}),
                3 => json!({"detail": {"eventType": [event_type], "target": {"type": ["User"], "alternateId": [{"suffix": "@example.com"}]}}}),
                _ => json!({"detail": {"eventType": [event_type], "actor": {"type": ["User"]}}}),
            };
            (i, Pattern::from_value(&pattern, Limits::RELAY_ROUTE).unwrap())
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let events = events();
    let mut group = c.benchmark_group("match");
    group.throughput(Throughput::Elements(1));
    for (size_label, bytes) in &events {
        group.bench_with_input(
            BenchmarkId::new("baseline_serde_json_parse", size_label),
            bytes,
            |b, bytes| {
                b.iter(|| black_box(serde_json::from_slice::<Value>(black_box(bytes)).unwrap()));
            },
        );
        for patterns in [1, 10, 100, 1000] {
            let set = route_table(patterns);
            group.bench_with_input(
                BenchmarkId::new(format!("pattern_set_{patterns}"), size_label),
                bytes,
                |b, bytes| {
                    b.iter(|| black_box(set.matching(black_box(bytes)).unwrap().len()));
                },
            );
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
