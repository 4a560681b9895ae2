//! The relay's in-function cost per event, network excluded: read the envelope, type the Okta
//! event, enrich, route, and serialise one payload per matching route (`relay_core::route_event`), for
//! 2-8 KB events and 1/10/100 routes, beside the baseline of merely parsing the same bytes into
//! a `serde_json::Value`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // bench code

use std::hint::black_box;

use chrono::Utc;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use relay_core::{EnrichContext, LoadOptions, RouteTable, route_event};
use serde_json::{Value, json};

const SAMPLES: &str = include_str!("../../../samples/eventbridge-events.jsonl");

/// A high-risk failed sign-in (about 3 KB) trimmed to about 2 KB, as is, and grown to about 8 KB
/// with many targets, as a large group change looks.
fn events() -> Vec<(String, Vec<u8>)> {
    let sign_in: Value = serde_json::from_str(SAMPLES.lines().nth(1).unwrap()).unwrap();
    let mut small = sign_in.clone();
    for noisy in ["authenticationContext", "request", "transaction"] {
        small["detail"].as_object_mut().unwrap().remove(noisy);
    }
    small["detail"]["debugContext"]["debugData"]
        .as_object_mut()
        .unwrap()
        .remove("logOnlySecurityData");
    let mut large = sign_in.clone();
    let targets: Vec<Value> = (0..40)
        .map(|i| json!({"id": format!("00u{i:017}"), "type": "User", "alternateId": format!("member{i}@example.com"), "displayName": format!("Member {i}"), "detailEntry": null}))
        .collect();
    large["detail"]["target"] = Value::Array(targets);
    [small, sign_in, large]
        .into_iter()
        .map(|event| {
            let bytes = serde_json::to_vec(&event).unwrap();
            (format!("{}B", bytes.len()), bytes)
        })
        .collect()
}

/// `size` routes; two match the event (its event type, and the enrichment's risk level), the
/// rest key on other event types, and one in ten has no event-type anchor.
fn routes(size: usize) -> RouteTable {
    let routes: Vec<Value> = (0..size)
        .map(|i| {
            let pattern = match i {
                0 => json!({"detail": {"eventType": ["user.session.start"]}}),
                1 => json!({"relay": {"risk": {"level": ["HIGH"]}}}),
                _ if i % 10 == 0 => json!({"detail": {"severity": [{"anything-but": ["DEBUG", "INFO", "WARN"]}]}}),
                _ => json!({"detail": {"eventType": [format!("custom.event.type{i}")], "outcome": {"result": ["FAILURE"]}}}),
            };
            json!({"name": format!("route-{i}"), "pattern": pattern,
                   "endpoint": format!("https://example.workflows.okta.com/api/flo/{i}/invoke"),
                   "auth": {"tokenParameter": format!("/okta-relay/workflows/route-{i}")}})
        })
        .collect();
    RouteTable::from_json(
        &json!({"version": 1, "routes": routes}).to_string(),
        LoadOptions::default(),
    )
    .unwrap()
}

fn bench(c: &mut Criterion) {
    let events = events();
    let mut group = c.benchmark_group("relay");
    group.throughput(Throughput::Elements(1));
    for (size, bytes) in &events {
        group.bench_with_input(
            BenchmarkId::new("baseline_serde_json_parse", size),
            bytes,
            |b, bytes| {
                b.iter(|| black_box(serde_json::from_slice::<Value>(black_box(bytes)).unwrap()));
            },
        );
        for count in [1, 10, 100] {
            let table = routes(count);
            let context = EnrichContext {
                org: None,
                now: Utc::now(),
            };
            assert!(
                !route_event(bytes, &table, &context)
                    .unwrap()
                    .deliveries
                    .is_empty()
            );
            group.bench_with_input(
                BenchmarkId::new(format!("plan_routes_{count}"), size),
                bytes,
                |b, bytes| {
                    b.iter(|| black_box(route_event(black_box(bytes), &table, &context).unwrap()));
                },
            );
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
