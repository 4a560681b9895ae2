use chrono::Utc;
use relay_core::{EnrichContext, LoadOptions, RouteTable, route_event};
use serde_json::{Value, json};
const SAMPLES: &str = include_str!("../../../samples/eventbridge-events.jsonl");
fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20000);
    let routes_n: usize = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1);
    let bytes = SAMPLES.lines().nth(1).unwrap().as_bytes().to_vec();
    let routes: Vec<Value> = (0..routes_n).map(|i| {
        let pattern = match i { 0 => json!({"detail": {"eventType": ["user.session.start"]}}), 1 => json!({"relay": {"risk": {"level": ["HIGH"]}}}), _ => json!({"detail": {"eventType": [format!("x{i}")]}}) };
        json!({"name": format!("route-{i}"), "pattern": pattern, "endpoint": format!("https://example.workflows.okta.com/api/flo/{i}/invoke"), "auth": {"tokenParameter": format!("/okta-relay/workflows/route-{i}")}})
    }).collect();
    let table = RouteTable::from_json(
        &json!({"version": 1, "routes": routes}).to_string(),
        LoadOptions::default(),
    )
    .unwrap();
    let context = EnrichContext {
        org: None,
        now: Utc::now(),
    };
    let mode = std::env::var("MODE").unwrap_or_default();
    let started = std::time::Instant::now();
    for _ in 0..n {
        if mode == "parse" {
            std::hint::black_box(serde_json::from_slice::<Value>(&bytes).unwrap());
        } else {
            std::hint::black_box(
                route_event(std::hint::black_box(&bytes), &table, &context).unwrap(),
            );
        }
    }
    eprintln!("{:?} per event", started.elapsed() / n as u32);
}
