//! The one JSON reader for patterns and events: `serde_json::Value`, except that an object
//! holding the same key twice is an error.
//!
//! JSON leaves duplicate keys undefined (RFC 8259, section 4: "the names within an object SHOULD
//! be unique"), and readers disagree: serde_json's `Value` keeps the last, a streaming reader the
//! first, EventBridge's engine (aws/event-ruler's `JsonRuleCompiler`) the last by default or an
//! error when its `withOverriding` flag is off, and which one EventBridge runs is not documented.
//! A pattern or event that means different things to different readers is refused, naming the
//! key, so every path (routes, `pattern test`, the rule check, the relay) reads the same thing.
//! No crate offers this for `Value`, hence these few lines; the cost is that of a plain parse
//! (the check is the map entry the insert looks up anyway).

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::map::Entry;
use serde_json::{Map, Value};

/// Parses JSON text, refusing duplicate keys at any depth.
pub fn from_str(text: &str) -> Result<Value, serde_json::Error> {
    from_slice(text.as_bytes())
}

/// Parses JSON bytes, refusing duplicate keys at any depth.
pub fn from_slice(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = Strict::deserialize(&mut deserializer)?.0;
    deserializer.end()?;
    Ok(value)
}

/// For `#[serde(deserialize_with = "event_pattern::strict_json::deserialize")]` on a `Value`
/// field inside a larger document (a route table's `pattern`).
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
    Strict::deserialize(deserializer).map(|strict| strict.0)
}

struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        // JSON text cannot hold NaN or infinity, so this is always a number.
        Ok(serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        Strict::deserialize(deserializer).map(|strict| strict.0)
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            let Strict(value) = access.next_value()?;
            match map.entry(key) {
                Entry::Vacant(vacant) => {
                    vacant.insert(value);
                }
                Entry::Occupied(occupied) => {
                    return Err(de::Error::custom(DuplicateKey(occupied.key().clone())));
                }
            }
        }
        Ok(Value::Object(map))
    }
}

pub(crate) struct DuplicateKey(pub(crate) String);

impl fmt::Display for DuplicateKey {
    fn fmt(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        write!(
            formatter,
            "duplicate key `{}`: an object names it twice, which JSON readers (EventBridge's \
             among them) resolve differently; keep one",
            self.0
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_serde_json_reads() {
        let text = r#"{"a": [1, -2, 3.5, "x", null, true, {"b": {}}], "c": 18446744073709551615}"#;
        assert_eq!(
            from_str(text).unwrap(),
            serde_json::from_str::<Value>(text).unwrap()
        );
    }

    #[test]
    fn refuses_duplicate_keys_at_any_depth() {
        for text in [
            r#"{"a": 1, "a": 2}"#,
            r#"{"x": {"a": [1], "b": 2, "a": [3]}}"#,
            r#"[{"k": 1, "k": 1}]"#,
        ] {
            let error = from_str(text).unwrap_err().to_string();
            assert!(error.starts_with("duplicate key"), "{text}: {error}");
        }
        assert!(from_str(r#"{"a": 1, "b": {"a": 2}}"#).is_ok());
    }

    #[test]
    fn keeps_the_parsers_limits_and_errors() {
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(
            from_str(&deep)
                .unwrap_err()
                .to_string()
                .contains("recursion")
        );
        assert!(from_str("{} trailing").is_err());
        assert!(from_str("").is_err());
    }
}
