//! Reading one invocation payload: an EventBridge event whose `detail` is an Okta `LogEvent`.
//! Everything that can be wrong with the input is a [`BadInput`] with a reason a person can act on.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use okta::LogEventError;
use serde_json::error::Category;
use serde_json::{Map, Value};

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
    #[error("payload is ambiguous JSON: {0}")]
    Ambiguous(String),
    #[error("payload is not an EventBridge event: {path}: {reason}")]
    NotEventBridge { path: String, reason: String },
    #[error("EventBridge event detail is {0}")]
    NotOkta(#[from] LogEventError),
}

/// One payload, read once: the event exactly as received (what EventBridge rules matched and
/// what routes match: `time` as written, every field as sent) and its typed view.
#[derive(Debug)]
pub struct Received {
    /// The envelope's fields as received, `detail` moved into `envelope.detail`.
    pub fields: Map<String, Value>,
    pub envelope: EventBridgeEvent<Value>,
}

impl Received {
    /// The event as received, for dead letters.
    pub fn to_value(&self) -> Value {
        let mut fields = self.fields.clone();
        fields.insert("detail".into(), self.envelope.detail.clone());
        Value::Object(fields)
    }
}

/// Parses the payload (one pass over the bytes, duplicate keys refused as the pattern reader
/// refuses them) into the event as received and its typed EventBridge envelope.
pub fn read_envelope(payload: &[u8]) -> Result<Received, BadInput> {
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(BadInput::TooLarge(payload.len()));
    }
    let value = event_pattern::strict_json::from_slice(payload).map_err(|error| {
        match error.classify() {
            Category::Data => BadInput::Ambiguous(error.to_string()),
            _ => BadInput::NotJson(error.to_string()),
        }
    })?;
    let Value::Object(mut fields) = value else {
        return Err(BadInput::NotEventBridge {
            path: ".".into(),
            reason: "expected a JSON object".into(),
        });
    };
    // The typed view is read from the small envelope; `detail` is moved, never copied.
    let detail = fields.remove("detail");
    let mut envelope: EventBridgeEvent<Value> =
        serde_path_to_error::deserialize(EnvelopeFields(&fields)).map_err(|error| {
            BadInput::NotEventBridge {
                path: error.path().to_string(),
                reason: error.into_inner().to_string(),
            }
        })?;
    envelope.detail = detail.ok_or_else(|| BadInput::NotEventBridge {
        path: ".".into(),
        reason: "missing field `detail`".into(),
    })?;
    Ok(Received { fields, envelope })
}

/// The envelope's fields with a `null` detail, for reading the typed view without `detail`.
struct EnvelopeFields<'a>(&'a Map<String, Value>);

impl<'de> serde::Deserializer<'de> for EnvelopeFields<'de> {
    type Error = serde_json::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        use serde::de::value::MapDeserializer;
        let entries = self
            .0
            .iter()
            .map(|(key, value)| (key.as_str(), value))
            .chain(std::iter::once(("detail", &Value::Null)));
        let mut map = MapDeserializer::new(entries);
        let value = visitor.visit_map(&mut map)?;
        map.end()?;
        Ok(value)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

/// An Okta System Log event in the envelope EventBridge delivers it in from Okta's partner
/// event source (`detail-type` `SystemLog`, `time` = the event's `published`), for events that
/// did not come through EventBridge (a backfill, a replayed file).
pub fn as_delivered(event: Value, id: &str, source: &str, account: &str, region: &str) -> Vec<u8> {
    let time = event.get("published").cloned().unwrap_or(Value::Null);
    serde_json::json!({
        "version": "0", "id": id, "detail-type": "SystemLog", "source": source,
        "account": account, "time": time, "region": region, "resources": [], "detail": event
    })
    .to_string()
    .into_bytes()
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
        let envelope = read_envelope(line.as_bytes()).unwrap().envelope;
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
