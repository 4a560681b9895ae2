//! Reading one invocation payload: an EventBridge event whose `detail` is an Okta `LogEvent`.
//! Everything that can be wrong with the input is a [`BadInput`] with a reason a person can act on.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use okta::LogEventError;
use serde_json::Value;
use serde_json::error::Category;

/// EventBridge's maximum event size; anything larger did not come from EventBridge.
pub const MAX_PAYLOAD_BYTES: usize = 256 * 1024;

/// Why an invocation payload cannot be relayed. It is dead-lettered, never retried: the same
/// bytes would fail the same way.
#[derive(Debug, thiserror::Error)]
pub enum BadInput {
    #[error("payload is {0} bytes, over the {MAX_PAYLOAD_BYTES}-byte EventBridge event limit")]
    TooLarge(usize),
    #[error("payload is not JSON: {0}")]
    NotJson(String),
    #[error("payload is not an EventBridge event: {path}: {reason}")]
    NotEventBridge { path: String, reason: String },
    #[error("EventBridge event detail is {0}")]
    NotOkta(#[from] LogEventError),
}

/// Parses the payload into an EventBridge event with a JSON `detail`, in one pass over the bytes.
pub fn read_envelope(payload: &[u8]) -> Result<EventBridgeEvent<Value>, BadInput> {
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(BadInput::TooLarge(payload.len()));
    }
    if payload.iter().find(|byte| !byte.is_ascii_whitespace()) != Some(&b'{') {
        // Serde would read a JSON array as a struct's fields in order; say what is wrong instead.
        return Err(
            match serde_json::from_slice::<serde::de::IgnoredAny>(payload) {
                Ok(_) => BadInput::NotEventBridge {
                    path: ".".into(),
                    reason: "expected a JSON object".into(),
                },
                Err(error) => BadInput::NotJson(error.to_string()),
            },
        );
    }
    // Path tracking costs more than the parse itself, so it only runs to explain a failure.
    serde_json::from_slice(payload).map_err(|_| explain(payload))
}

/// Parses again with path tracking, for an error that names where the payload went wrong.
fn explain(payload: &[u8]) -> BadInput {
    let mut deserializer = serde_json::Deserializer::from_slice(payload);
    let parsed: Result<EventBridgeEvent<Value>, _> =
        serde_path_to_error::deserialize(&mut deserializer);
    match parsed {
        Err(error) => classify(error.path().to_string(), error.into_inner()),
        Ok(_) => match deserializer.end() {
            Err(error) => classify(".".into(), error),
            Ok(()) => BadInput::NotJson("unreadable for an unknown reason".into()),
        },
    }
}

fn classify(path: String, error: serde_json::Error) -> BadInput {
    match error.classify() {
        Category::Data => BadInput::NotEventBridge {
            path,
            reason: error.to_string(),
        },
        Category::Syntax | Category::Eof | Category::Io => BadInput::NotJson(error.to_string()),
    }
}

/// The envelope as JSON again, for dead letters that must carry the event as received.
pub fn envelope_to_value(envelope: &EventBridgeEvent<Value>) -> Value {
    serde_json::to_value(envelope).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(payload: &[u8]) -> String {
        read_envelope(payload).unwrap_err().to_string()
    }

    #[test]
    fn reads_a_sample_envelope() {
        let line = include_str!("../../../samples/eventbridge-events.jsonl")
            .lines()
            .next()
            .unwrap();
        let envelope = read_envelope(line.as_bytes()).unwrap();
        assert_eq!(envelope.source, "aws.partner/okta.com/example/okta-relay");
        assert!(envelope.detail.get("uuid").is_some());
    }

    #[test]
    fn each_kind_of_bad_input_says_what_is_wrong() {
        assert!(reason(b"not json").starts_with("payload is not JSON"));
        assert!(reason(b"[1,2]").contains("not an EventBridge event: .: expected a JSON object"));
        assert!(reason(b"  ").starts_with("payload is not JSON"));
        assert!(
            reason(br#"{"detail-type":"x","source":"s","detail":{}} trailing"#)
                .starts_with("payload is not JSON")
        );
        assert!(reason(br#"{"source":"x","detail":{}}"#).contains("detail-type"));
        assert!(reason(br#"{"detail-type":"x","source":7,"detail":{}}"#).contains("source"));
        assert!(reason(br#"{"detail-type":"x","source":"s"}"#).contains("detail"));
        let huge = vec![b' '; MAX_PAYLOAD_BYTES + 1];
        assert!(reason(&huge).contains("over the 262144-byte"));
    }
}
