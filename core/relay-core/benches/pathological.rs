//! The worst a route table can do to one event: tables written to be expensive, each as large
//! as an SSM parameter holds (8 KB, the advanced tier), matched against a 256 KB event (the
//! EventBridge maximum) whose one 240 KB string is non-ASCII, so case folding takes its slow
//! path. Beside the baseline of merely parsing the same event. The target is every table under
//! 10 ms per event (docs/PERFORMANCE.md).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // bench code

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use relay_core::{LoadOptions, RouteTable};
use serde_json::{Value, json};

/// The largest SSM parameter value (advanced tier).
const SSM_PARAMETER_LIMIT: usize = 8 * 1024;
const EVENTBRIDGE_EVENT_LIMIT: usize = 256 * 1024;

/// A 256 KB event: an Okta event whose `displayMessage` is 240 KB of non-ASCII text.
fn huge_event() -> Vec<u8> {
    let mut message = String::new();
    while message.len() < 240 * 1024 {
        message.push_str("ÅRHUS-Straße-Ωμέγα-");
    }
    let event = json!({
        "version": "0", "id": "e-1", "detail-type": "SystemLog",
        "source": "aws.partner/okta.com/example/okta-relay", "account": "123456789012",
        "time": "2026-11-24T09:15:02Z", "region": "us-east-1", "resources": [],
        "detail": {"uuid": "u-1", "eventType": "user.session.start",
                   "published": "2026-11-24T09:15:02.512Z", "displayMessage": message}
    });
    let bytes = serde_json::to_vec(&event).unwrap();
    assert!(
        bytes.len() <= EVENTBRIDGE_EVENT_LIMIT,
        "{} bytes",
        bytes.len()
    );
    bytes
}

fn route(i: usize, pattern: Value) -> Value {
    json!({"name": format!("r{i}"), "pattern": pattern,
           "endpoint": format!("https://a.workflows.okta.com/api/flo/{i}/invoke"),
           "auth": {"scheme": "none"}})
}

fn document(routes: Vec<Value>) -> String {
    json!({"version": 1, "routes": routes}).to_string()
}

/// The largest table `build(n)` makes that still fits the SSM parameter limit, and its `n`.
fn largest(build: impl Fn(usize) -> String) -> (usize, String) {
    let mut n = 1;
    while build(n * 2).len() <= SSM_PARAMETER_LIMIT {
        n *= 2;
    }
    let (mut low, mut high) = (n, n * 2);
    while high - low > 1 {
        let mid = (low + high) / 2;
        if build(mid).len() <= SSM_PARAMETER_LIMIT {
            low = mid;
        } else {
            high = mid;
        }
    }
    (low, build(low))
}

/// One route whose `displayMessage` leaf holds `n` entries made by `entry`.
fn one_leaf(entry: fn(usize) -> Value) -> impl Fn(usize) -> String {
    move |n| {
        let values: Vec<Value> = (0..n).map(entry).collect();
        document(vec![route(
            0,
            json!({"detail": {"displayMessage": values}}),
        )])
    }
}

/// One route whose `displayMessage` must be anything but the `n` values of `list`.
fn anything_but(list: fn(Vec<Value>) -> Value) -> impl Fn(usize) -> String {
    move |n| {
        let values: Vec<Value> = (0..n).map(|i| json!(format!("v{i}"))).collect();
        document(vec![route(
            0,
            json!({"detail": {"displayMessage": [{"anything-but": list(values)}]}}),
        )])
    }
}

/// Makes the route table of one case with `n` values.
type Build = Box<dyn Fn(usize) -> String>;

fn tables() -> Vec<(&'static str, usize, String)> {
    let cases: Vec<(&'static str, Build)> = vec![
        ("anything_but_strings", Box::new(anything_but(Value::Array))),
        (
            "anything_but_equals_ignore_case",
            Box::new(anything_but(|values| json!({"equals-ignore-case": values}))),
        ),
        (
            "anything_but_wildcards",
            Box::new(|n| {
                let values: Vec<Value> = (0..n).map(|i| json!(format!("*{i}*"))).collect();
                document(vec![route(
                    0,
                    json!({"detail": {"displayMessage": [{"anything-but": {"wildcard": values}}]}}),
                )])
            }),
        ),
        (
            "equals_ignore_case_list",
            Box::new(one_leaf(|i| json!({"equals-ignore-case": format!("v{i}")}))),
        ),
        (
            "prefix_ignore_case_list",
            Box::new(one_leaf(
                |i| json!({"prefix": {"equals-ignore-case": format!("åv{i}")}}),
            )),
        ),
        (
            "suffix_ignore_case_list",
            Box::new(one_leaf(
                |i| json!({"suffix": {"equals-ignore-case": format!("åv{i}")}}),
            )),
        ),
        (
            "wildcard_list",
            Box::new(one_leaf(|i| json!({"wildcard": format!("*{i}*")}))),
        ),
        (
            "routes_each_equals_ignore_case",
            Box::new(|n| {
                document(
                    (0..n)
                        .map(|i| route(i, json!({"detail": {"displayMessage": [{"equals-ignore-case": format!("v{i}")}]}})))
                        .collect(),
                )
            }),
        ),
        (
            "or_alternatives_suffix_ignore_case",
            Box::new(|n| {
                let alternatives: Vec<Value> = (0..n.max(2))
                    .map(|i| json!({"detail": {"displayMessage": [{"suffix": {"equals-ignore-case": format!("å{i}")}}]}}))
                    .collect();
                document(vec![route(0, json!({"$or": alternatives}))])
            }),
        ),
    ];
    cases
        .into_iter()
        .map(|(name, build)| {
            let (n, text) = largest(build);
            (name, n, text)
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let event = huge_event();
    let parsed = event_pattern::strict_json::from_slice(&event).unwrap();
    let mut group = c.benchmark_group("pathological");
    group.throughput(Throughput::Elements(1));
    group.sample_size(20);
    group.bench_with_input(
        BenchmarkId::new("baseline_strict_json_parse", "256KB"),
        &event,
        |b, event| {
            b.iter(|| black_box(event_pattern::strict_json::from_slice(black_box(event)).unwrap()))
        },
    );
    for (name, n, text) in tables() {
        let table = RouteTable::from_json(&text, LoadOptions::default())
            .unwrap_or_else(|error| panic!("{name}: {error}"));
        eprintln!("{name}: {n} values, {} bytes of routes", text.len());
        // The parameter is how many values the 8 KB table holds (read by bench-report.py).
        group.bench_with_input(BenchmarkId::new(name, n), &parsed, |b, parsed| {
            b.iter(|| black_box(table.matching(black_box(parsed)).len()));
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
