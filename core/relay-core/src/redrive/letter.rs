//! The formats a dead-letter queue holds, read into what to send again: okta-relay's own
//! letters (`okta-relay.dead-letter/v1`, one per failed route); what the inbox's redrive policy
//! moved there after its receive count (an EventBridge event as the rule put it, or a retry the
//! relay wrote, owing some routes); and the records Lambda's on-failure destination wrote when
//! the relay was still invoked asynchronously.

use serde::Deserialize;
use serde_json::Value;

use crate::dead_letter;

/// What to send again.
#[derive(Debug, Clone, PartialEq)]
pub enum Redrive {
    /// One route failed: resend the event to that route only.
    Route {
        uuid: String,
        route: String,
        event: Value,
    },
    /// The whole invocation failed (Lambda's record), or the inbox gave up on the event: relay
    /// it to every route it matches.
    Event { event: Value },
    /// The inbox gave up on a retry: resend the event to the routes it still owed.
    Routes { routes: Vec<String>, event: Value },
}

/// Why a message cannot be sent again; it stays in the queue for a person.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NotRedrivable {
    #[error("the relay rejected this payload ({0}); sending it again cannot help")]
    BadInput(String),
    #[error("not a dead letter okta-relay knows: {0}")]
    Unknown(String),
    #[error(
        "the event (uuid {0}) was too large for the dead-letter queue and only its start was \
         kept; relay it again from Okta's System Log (okta-relay backfill over the minute it was \
         published) and delete this letter"
    )]
    Truncated(String),
}

/// Reads one queue message body.
pub fn read_dead_letter(body: &str) -> Result<Redrive, NotRedrivable> {
    if let Some(retry) = crate::inbox::Retry::read(body) {
        let retry = retry.map_err(|reason| {
            NotRedrivable::Unknown(format!("an okta-relay retry that cannot be read: {reason}"))
        })?;
        return Ok(Redrive::Routes {
            routes: retry.retry.routes,
            event: retry.event,
        });
    }
    let value: Value = serde_json::from_str(body)
        .map_err(|error| NotRedrivable::Unknown(format!("not JSON: {error}")))?;
    // An EventBridge event, as the rule put it in the inbox.
    if ["detail-type", "source", "detail"]
        .iter()
        .all(|field| value.get(field).is_some())
        && value.get("schema").is_none()
    {
        return Ok(Redrive::Event { event: value });
    }
    let message: Message = serde_json::from_value(value)
        .map_err(|error| NotRedrivable::Unknown(format!("not JSON: {error}")))?;
    match message {
        Message::Letter(letter) if letter.schema == dead_letter::SCHEMA => match letter.kind {
            LetterKind::DeliveryFailed {
                uuid,
                event_truncated: true,
                ..
            } => Err(NotRedrivable::Truncated(
                uuid.unwrap_or_else(|| "unknown".into()),
            )),
            LetterKind::DeliveryFailed {
                uuid: Some(uuid),
                route: Some(route),
                event: Some(event),
                ..
            } => Ok(Redrive::Route { uuid, route, event }),
            LetterKind::DeliveryFailed { .. } => Err(NotRedrivable::Unknown(
                "a delivery_failed letter without uuid, route or event".into(),
            )),
            LetterKind::BadInput { reason } => Err(NotRedrivable::BadInput(
                reason.unwrap_or_else(|| "no reason".into()),
            )),
        },
        Message::Letter(letter) => Err(NotRedrivable::Unknown(format!(
            "schema {:?}, not {}",
            letter.schema,
            dead_letter::SCHEMA
        ))),
        Message::InvocationRecord {
            request_payload: event,
            ..
        } if event.is_object() => Ok(Redrive::Event { event }),
        Message::InvocationRecord { .. } | Message::Other(_) => Err(NotRedrivable::Unknown(
            "neither an okta-relay dead letter, an EventBridge event nor a Lambda invocation record"
                .into(),
        )),
    }
}

/// The two formats, read leniently: a letter edited by hand, or written by an older relay, is
/// still recognised and says what it lacks.
#[derive(Deserialize)]
#[serde(untagged)]
enum Message {
    Letter(Letter),
    /// Lambda's on-failure destination: `{"version": "1.0", "requestContext": …,
    /// "requestPayload": …}`.
    #[serde(rename_all = "camelCase")]
    InvocationRecord {
        #[serde(rename = "requestContext")]
        _request_context: Value,
        request_payload: Value,
    },
    Other(serde::de::IgnoredAny),
}

#[derive(Deserialize)]
struct Letter {
    schema: String,
    #[serde(flatten)]
    kind: LetterKind,
}

#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum LetterKind {
    #[serde(rename_all = "camelCase")]
    DeliveryFailed {
        uuid: Option<String>,
        route: Option<String>,
        event: Option<Value>,
        #[serde(default)]
        event_truncated: bool,
    },
    BadInput {
        reason: Option<String>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_both_formats_and_refuses_bad_input() {
        let letter = json!({
            "schema": dead_letter::SCHEMA, "kind": "delivery_failed", "uuid": "u-1", "route": "r",
            "event": {"detail": {}}
        });
        assert_eq!(
            read_dead_letter(&letter.to_string()),
            Ok(Redrive::Route {
                uuid: "u-1".into(),
                route: "r".into(),
                event: json!({"detail": {}})
            })
        );
        let record = json!({
            "version": "1.0", "requestContext": {"condition": "RetriesExhausted"},
            "requestPayload": {"detail": {"uuid": "u-2"}}, "responseContext": {"functionError": "Unhandled"}
        });
        assert_eq!(
            read_dead_letter(&record.to_string()),
            Ok(Redrive::Event {
                event: json!({"detail": {"uuid": "u-2"}})
            })
        );
        let rejected =
            json!({"schema": dead_letter::SCHEMA, "kind": "bad_input", "reason": "not JSON"});
        assert!(
            matches!(read_dead_letter(&rejected.to_string()), Err(NotRedrivable::BadInput(r)) if r == "not JSON")
        );
        assert!(matches!(
            read_dead_letter("{"),
            Err(NotRedrivable::Unknown(_))
        ));
        assert!(matches!(
            read_dead_letter("{\"a\":1}"),
            Err(NotRedrivable::Unknown(_))
        ));
        let event = json!({"version": "0", "id": "e", "detail-type": "SystemLog",
            "source": "aws.partner/okta.com/example/okta-relay", "detail": {"uuid": "u-3"}});
        assert_eq!(
            read_dead_letter(&event.to_string()),
            Ok(Redrive::Event {
                event: event.clone()
            })
        );
        let retry = crate::inbox::Retry::fresh(event.clone(), vec!["r".into()], chrono::Utc::now());
        assert_eq!(
            read_dead_letter(&serde_json::to_string(&retry).unwrap()),
            Ok(Redrive::Routes {
                routes: vec!["r".into()],
                event
            })
        );
    }
}
