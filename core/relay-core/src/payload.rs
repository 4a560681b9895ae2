//! The body POSTed to a Workflows endpoint: `{"event": <Okta event, untouched>, "relay": {...}}`,
//! optionally cut down to the route's `fields` to stay under Workflows' payload limits.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::routes::Route;

#[derive(Serialize)]
struct Payload<'a> {
    event: &'a Value,
    relay: &'a Map<String, Value>,
}

/// Serialises the payload for one route. `relay` is the enrichment object; the route's name is
/// added to it as `relay.route`.
pub fn payload_for(route: &Route, event: &Value, relay: &Map<String, Value>) -> Vec<u8> {
    let mut relay = relay.clone();
    relay.insert("route".into(), Value::String(route.name.clone()));
    let payload = Payload {
        event,
        relay: &relay,
    };
    let bytes = match &route.fields {
        None => serde_json::to_vec(&payload),
        Some(fields) => serde_json::to_value(&payload)
            .and_then(|full| serde_json::to_vec(&keep_fields(&full, fields))),
    };
    // Serialising JSON values to memory cannot fail; an empty object is still a valid body.
    bytes.unwrap_or_else(|_| b"{}".to_vec())
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
    use crate::routes::{LoadOptions, RouteTable};
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

    fn relay() -> Map<String, Value> {
        json!({"eventType": "user.session.start", "actor": {"login": "alice@example.com"}})
            .as_object()
            .unwrap()
            .clone()
    }

    #[test]
    fn carries_the_untouched_event_and_the_route_name() {
        let event = json!({"uuid": "u-1", "eventType": "user.session.start", "debugContext": {"debugData": {"x": 1}}});
        let body: Value =
            serde_json::from_slice(&payload_for(&route(None), &event, &relay())).unwrap();
        assert_eq!(body["event"], event);
        assert_eq!(body["relay"]["route"], "alerts");
        assert_eq!(body["relay"]["actor"]["login"], "alice@example.com");
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
