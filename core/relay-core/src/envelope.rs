//! Reading one invocation payload: an EventBridge event whose `detail` is an Okta `LogEvent`.
//! Everything that can be wrong with the input is a [`BadInput`] with a reason a person can act on.

use std::fmt;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use okta::LogEventError;
use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};
use serde_json::error::Category;
use serde_json::map::Entry;
use serde_json::value::RawValue;
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
    /// `detail`'s text exactly as received, written into payloads as is: serialising the parsed
    /// event again was a fifth of the relay's work per event.
    pub detail_json: Box<RawValue>,
}

impl Received {
    /// The event as received, for dead letters.
    pub fn to_value(&self) -> Value {
        let mut fields = self.fields.clone();
        fields.insert("detail".into(), self.envelope.detail.clone());
        Value::Object(fields)
    }
}

/// Parses the payload (duplicate keys refused at any depth, as the pattern reader refuses them)
/// into the event as received, `detail`'s own text, and its typed EventBridge envelope.
pub fn read_envelope(payload: &[u8]) -> Result<Received, BadInput> {
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(BadInput::TooLarge(payload.len()));
    }
    let (fields, detail) = match read_top_level(payload) {
        Ok(read) => read,
        // Read again the plain way, only to say what is wrong where the payload says it.
        Err(fast) => return Err(json_error(payload).unwrap_or(fast)),
    };
    // The typed view is read from the small envelope; `detail` is moved, never copied.
    let mut envelope: EventBridgeEvent<Value> =
        serde_path_to_error::deserialize(EnvelopeFields(&fields)).map_err(|error| {
            BadInput::NotEventBridge {
                path: error.path().to_string(),
                reason: error.into_inner().to_string(),
            }
        })?;
    let Some((detail, detail_json)) = detail else {
        return Err(BadInput::NotEventBridge {
            path: ".".into(),
            reason: "missing field `detail`".into(),
        });
    };
    envelope.detail = detail;
    Ok(Received {
        fields,
        envelope,
        detail_json,
    })
}

/// The top-level members but `detail`, and `detail` read strictly beside its text.
type TopLevel = (Map<String, Value>, Option<(Value, Box<RawValue>)>);

/// One pass over the payload: the top-level members read strictly, `detail` also kept as text.
fn read_top_level(payload: &[u8]) -> Result<TopLevel, BadInput> {
    let mut deserializer = serde_json::Deserializer::from_slice(payload);
    let read = serde::Deserializer::deserialize_map(&mut deserializer, TopLevelVisitor)
        .and_then(|read| deserializer.end().map(|()| read));
    read.map_err(|error| classify(&error))
}

/// Why the payload is not JSON, or not a JSON object, read the plain way (positions counted from
/// the payload's start); `None` if it reads.
fn json_error(payload: &[u8]) -> Option<BadInput> {
    match event_pattern::strict_json::from_slice(payload) {
        Err(error) => Some(classify(&error)),
        Ok(Value::Object(_)) => None,
        Ok(_) => Some(BadInput::NotEventBridge {
            path: ".".into(),
            reason: "expected a JSON object".into(),
        }),
    }
}

fn classify(error: &serde_json::Error) -> BadInput {
    match error.classify() {
        Category::Data => BadInput::Ambiguous(error.to_string()),
        _ => BadInput::NotJson(error.to_string()),
    }
}

struct TopLevelVisitor;

impl<'de> Visitor<'de> for TopLevelVisitor {
    type Value = TopLevel;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<TopLevel, A::Error> {
        #[derive(Deserialize)]
        struct Strict(#[serde(deserialize_with = "event_pattern::strict_json::deserialize")] Value);

        // Never shown: the plain read that follows a failure names the key where it stands.
        let duplicate = |key: &str| de::Error::custom(format!("duplicate key `{key}`"));
        let mut fields = Map::new();
        let mut detail = None;
        while let Some(key) = access.next_key::<String>()? {
            if key == "detail" {
                if detail.is_some() {
                    return Err(duplicate(&key));
                }
                let raw: &RawValue = access.next_value()?;
                let value =
                    event_pattern::strict_json::from_str(raw.get()).map_err(de::Error::custom)?;
                detail = Some((value, raw.to_owned()));
                continue;
            }
            let Strict(value) = access.next_value()?;
            match fields.entry(key) {
                Entry::Vacant(vacant) => {
                    vacant.insert(value);
                }
                Entry::Occupied(occupied) => return Err(duplicate(occupied.key())),
            }
        }
        Ok((fields, detail))
    }
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
    fn keeps_details_text_as_received() {
        let payload =
            br#"{"detail-type":"SystemLog","source":"s","detail": {"uuid":"u", "n": 1e2}}"#;
        let received = read_envelope(payload).unwrap();
        assert_eq!(received.detail_json.get(), r#"{"uuid":"u", "n": 1e2}"#);
        assert_eq!(received.envelope.detail["uuid"], "u");
        assert!(!received.fields.contains_key("detail"));
    }

    #[test]
    fn duplicate_keys_are_refused_where_the_payload_has_them() {
        // Inside `detail` the error's position counts from the payload's start, as a plain read
        // reports it, not from `detail`'s.
        let inside = br#"{"detail-type":"x","source":"s","detail":{"a":1,"a":2}}"#;
        let plain = event_pattern::strict_json::from_slice(inside).unwrap_err();
        assert_eq!(
            reason(inside),
            format!("payload is ambiguous JSON: {plain}")
        );
        assert!(reason(inside).contains("column 54"), "{}", reason(inside));
        for payload in [
            &br#"{"detail-type":"x","source":"s","detail":{},"detail":{}}"#[..],
            br#"{"detail-type":"x","source":"s","source":"t","detail":{}}"#,
        ] {
            assert!(
                reason(payload).starts_with("payload is ambiguous JSON: duplicate key"),
                "{}",
                reason(payload)
            );
        }
    }

    #[test]
    fn deep_nesting_inside_detail_is_refused_without_overflowing_the_stack() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let payload = format!(r#"{{"detail-type":"x","source":"s","detail":{{"a":{deep}}}}}"#);
        let reason = reason(payload.as_bytes());
        assert!(
            reason.starts_with("payload is not JSON: recursion limit"),
            "{reason}"
        );
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
