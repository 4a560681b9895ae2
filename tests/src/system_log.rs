//! System Log events for the fake Okta to serve: the bundled samples (`samples/okta-events.jsonl`)
//! given fresh uuids and publication times, so a test knows exactly which ones fall in a window.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{Value, json};

const SAMPLES: &str = include_str!("../../samples/okta-events.jsonl");

/// `count` events, uuids `<prefix>-0000`…, published `spacing` apart from `start`; the event
/// types cycle through the samples'.
pub fn events(prefix: &str, count: usize, start: DateTime<Utc>, spacing: Duration) -> Vec<Value> {
    let samples: Vec<Value> = SAMPLES
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    (0..count)
        .map(|index| {
            let mut event = samples
                .get(index % samples.len().max(1))
                .cloned()
                .unwrap_or_else(|| json!({}));
            event["uuid"] = json!(format!("{prefix}-{index:04}"));
            event["published"] = json!(
                (start + spacing * index as i32).to_rfc3339_opts(SecondsFormat::Millis, true)
            );
            event
        })
        .collect()
}
