//! The body POSTed to a Workflows endpoint: `{"event": <Okta event, untouched>, "relay": {...}}`,
//! optionally cut down to the route's `fields` to stay under Workflows' payload limits.

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::enrich::{Enrichment, to_object};
use crate::routes::Route;

#[derive(Serialize)]
struct Payload<'a> {
    event: &'a Value,
    relay: &'a Map<String, Value>,
}

/// The bodies for the routes one event matched. The event's text is written as received and the
/// enrichment is serialised once; only the route's name differs between routes.
pub struct Payloads<'a> {
    event_json: &'a RawValue,
    event: &'a Value,
    relay: &'a Enrichment,
    /// `relay` serialised without its closing brace, ready for its `route` member.
    relay_open: Vec<u8>,
}

impl<'a> Payloads<'a> {
    /// `event_json` is `event`'s text as received; `relay` is its enrichment.
    pub fn new(event_json: &'a RawValue, event: &'a Value, relay: &'a Enrichment) -> Self {
        let mut relay_open = to_vec(relay);
        relay_open.pop();
        if relay_open.len() > 1 {
            relay_open.push(b',');
        }
        Self {
            event_json,
            event,
            relay,
            relay_open,
        }
    }

    /// The body for `route`: `{"event": …, "relay": {…, "route": <its name>}}`, cut down to the
    /// route's `fields` when it lists some.
    pub fn for_route(&self, route: &Route) -> Vec<u8> {
        if let Some(fields) = &route.fields {
            let mut relay = to_object(self.relay);
            relay.insert("route".into(), Value::String(route.name.clone()));
            let full = serde_json::to_value(Payload {
                event: self.event,
                relay: &relay,
            });
            return full.map_or_else(
                |_| b"{}".to_vec(),
                |full| to_vec(&keep_fields(&full, fields)),
            );
        }
        let event = self.event_json.get().as_bytes();
        let mut body =
            Vec::with_capacity(event.len() + self.relay_open.len() + route.name.len() + 32);
        body.extend_from_slice(b"{\"event\":");
        body.extend_from_slice(event);
        body.extend_from_slice(b",\"relay\":");
        body.extend_from_slice(&self.relay_open);
        body.extend_from_slice(b"\"route\":");
        body.extend_from_slice(&to_vec(&route.name));
        body.extend_from_slice(b"}}");
        body
    }
}

/// Serialising JSON values to memory cannot fail; an empty object is still a valid body.
fn to_vec(value: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec())
}

/// A copy of `full` holding only the listed paths (and the objects leading to them).
fn keep_fields(full: &Value, fields: &[Vec<String>]) -> Value {
    let mut kept = Value::Object(Map::new());
    for path in fields {
        let Some(found) = path
            .iter()
            .try_fold(full, |value, segment| value.get(segment))
        else {
            continue;
        };
        let mut slot = &mut kept;
        for segment in path {
            let Value::Object(object) = slot else { break };
            slot = object
                .entry(segment.clone())
                .or_insert_with(|| Value::Object(Map::new()));
        }
        *slot = found.clone();
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enrich::{EnrichContext, enrich};
    use crate::envelope::read_envelope;
    use crate::routes::{LoadOptions, RouteTable};
    use okta::LogEvent;
    use serde_json::json;

    fn route(fields: Option<Value>) -> Route {
        let mut route = json!({
            "name": "alerts",
            "pattern": {"detail": {"eventType": [{"exists": true}]}},
            "endpoint": "https://example.workflows.okta.com/api/flo/abc/invoke",
            "auth": {"scheme": "none"}
        });
        if let Some(fields) = fields {
            route["fields"] = fields;
        }
        let text = json!({"version": 1, "routes": [route]}).to_string();
        RouteTable::from_json(&text, LoadOptions::default())
            .unwrap()
            .routes()[0]
            .clone()
    }

    /// The enrichment of a sign-in by alice.
    fn relay() -> Enrichment {
        let payload = json!({
            "detail-type": "SystemLog", "source": "aws.partner/okta.com/example/okta-relay",
            "detail": {"uuid": "u-1", "eventType": "user.session.start",
                       "published": "2026-01-01T00:00:00Z",
                       "actor": {"alternateId": "alice@example.com"}}
        });
        let received = read_envelope(payload.to_string().as_bytes()).unwrap();
        let event = LogEvent::from_value(&received.envelope.detail).unwrap();
        let context = EnrichContext {
            org: None,
            now: chrono::Utc::now(),
        };
        enrich(&received.envelope, &event, &context)
    }

    fn payload_for(route: &Route, event: &Value, relay: &Enrichment) -> Vec<u8> {
        let text = RawValue::from_string(event.to_string()).unwrap();
        Payloads::new(&text, event, relay).for_route(route)
    }

    #[test]
    fn carries_the_untouched_event_the_enrichment_and_the_route_name() {
        let event = json!({"uuid": "u-1", "eventType": "user.session.start", "debugContext": {"debugData": {"x": 1}}});
        let relay = relay();
        let body: Value =
            serde_json::from_slice(&payload_for(&route(None), &event, &relay)).unwrap();
        assert_eq!(body["event"], event);
        assert_eq!(body["relay"]["route"], "alerts");
        assert_eq!(body["relay"]["actor"]["login"], "alice@example.com");
        let mut enrichment = body["relay"].as_object().unwrap().clone();
        enrichment.remove("route");
        assert_eq!(enrichment, to_object(&relay));
    }

    #[test]
    fn writes_the_events_text_as_received() {
        // Key order, spacing and number spelling as Okta wrote them, which a re-serialised
        // `Value` would change (sorted keys, `1e2` as `100.0`, escapes decoded).
        let text = r#"{"uuid": "u-1", "eventType": "x", "n": 1e2, "a": "\u00e9"}"#;
        let raw = RawValue::from_string(text.into()).unwrap();
        let event: Value = serde_json::from_str(text).unwrap();
        let relay = relay();
        let body = Payloads::new(&raw, &event, &relay).for_route(&route(None));
        let body = String::from_utf8(body).unwrap();
        assert!(
            body.starts_with(&format!("{{\"event\":{text},\"relay\":{{")),
            "{body}"
        );
        let parsed: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(parsed["relay"]["route"], "alerts");
        assert_eq!(parsed["relay"]["eventType"], "user.session.start");
    }

    #[test]
    fn fields_keep_only_the_listed_paths() {
        let event =
            json!({"uuid": "u-1", "actor": {"id": "00u1"}, "client": {"ipAddress": "192.0.2.1"}});
        let fields = json!([
            "event.uuid",
            "event.actor",
            "relay.route",
            "event.missing.path"
        ]);
        let body: Value =
            serde_json::from_slice(&payload_for(&route(Some(fields)), &event, &relay())).unwrap();
        assert_eq!(
            body,
            json!({"event": {"uuid": "u-1", "actor": {"id": "00u1"}}, "relay": {"route": "alerts"}})
        );
    }
}
