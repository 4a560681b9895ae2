//! Input: a pattern, a newline, an event. Parsing and matching must never panic, and matching
//! raw bytes (sparse parse) must agree with matching the fully parsed event.
#![no_main]

use event_pattern::{Limits, Pattern};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(split) = data.iter().position(|&b| b == b'\n') else {
        return;
    };
    let (pattern, event) = (&data[..split], &data[split + 1..]);
    let Ok(pattern) = std::str::from_utf8(pattern) else {
        return;
    };
    let Ok(pattern) = Pattern::parse_with_limits(pattern, Limits::RELAY_ROUTE) else {
        return;
    };
    let by_bytes = pattern.matches(event);
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(event) {
        if value.is_object() {
            assert_eq!(by_bytes.ok(), Some(pattern.matches_value(&value)));
        }
    }
});
