//! The parts of Okta's `LogEvent` (see `LogEvent` in Okta's Management API description) that the
//! relay reads. The full event is always forwarded untouched; this typed view only exists so that
//! enrichment reads checked fields instead of guessing at JSON.
//!
//! Fields borrow from an already parsed [`serde_json::Value`]: the relay parses each event once.
//! `debugContext.debugData` is deliberately absent: Okta documents it as a debugging aid, not a
//! contract, so enrichment reads it leniently from the raw value instead.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

/// The longest uuid accepted (Okta's are 36 characters).
pub const MAX_UUID_LEN: usize = 128;

/// One Okta System Log event, as far as the relay needs to understand it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEvent<'a> {
    pub uuid: &'a str,
    pub event_type: &'a str,
    pub published: DateTime<Utc>,
    #[serde(default)]
    pub display_message: Option<&'a str>,
    #[serde(default)]
    pub severity: Option<&'a str>,
    #[serde(default)]
    pub outcome: Option<Outcome<'a>>,
    #[serde(default)]
    pub actor: Option<Actor<'a>>,
    #[serde(default, rename = "target")]
    pub targets: Option<Vec<Target<'a>>>,
    #[serde(default)]
    pub client: Option<Client<'a>>,
    #[serde(default)]
    pub security_context: Option<SecurityContext<'a>>,
}

#[derive(Debug, Deserialize)]
pub struct Outcome<'a> {
    #[serde(default)]
    pub result: Option<&'a str>,
    #[serde(default)]
    pub reason: Option<&'a str>,
}

/// The entity that performed the action (`LogActor`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Actor<'a> {
    #[serde(default)]
    pub id: Option<&'a str>,
    #[serde(default, rename = "type")]
    pub kind: Option<&'a str>,
    #[serde(default)]
    pub alternate_id: Option<&'a str>,
    #[serde(default)]
    pub display_name: Option<&'a str>,
}

/// An entity the action was performed on (`LogTarget`); same identifying fields as an actor.
pub type Target<'a> = Actor<'a>;

/// Where the request came from (`LogClient`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Client<'a> {
    #[serde(default)]
    pub ip_address: Option<&'a str>,
    #[serde(default)]
    pub device: Option<&'a str>,
    #[serde(default)]
    pub user_agent: Option<UserAgent<'a>>,
    #[serde(default)]
    pub geographical_context: Option<GeographicalContext<'a>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserAgent<'a> {
    #[serde(default)]
    pub raw_user_agent: Option<&'a str>,
    #[serde(default)]
    pub os: Option<&'a str>,
    #[serde(default)]
    pub browser: Option<&'a str>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GeographicalContext<'a> {
    #[serde(default)]
    pub city: Option<&'a str>,
    #[serde(default)]
    pub state: Option<&'a str>,
    #[serde(default)]
    pub country: Option<&'a str>,
}

/// Network facts about the client (`LogSecurityContext`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityContext<'a> {
    #[serde(default)]
    pub as_number: Option<i64>,
    #[serde(default)]
    pub as_org: Option<&'a str>,
    #[serde(default)]
    pub isp: Option<&'a str>,
    #[serde(default)]
    pub domain: Option<&'a str>,
    #[serde(default)]
    pub is_proxy: Option<bool>,
}

/// Why a JSON value is not an Okta `LogEvent`.
#[derive(Debug, thiserror::Error)]
#[error("not an Okta LogEvent: {path}: {reason}")]
pub struct LogEventError {
    /// JSON path inside the event, for example `actor.alternateId`.
    pub path: String,
    pub reason: String,
}

impl<'a> LogEvent<'a> {
    /// Reads the typed view of an event. Fails, naming the field, when a required field
    /// (`uuid`, `eventType`, `published`) is missing or blank, or a known field has the wrong
    /// type. A blank uuid would make dead letters and idempotency keys useless.
    pub fn from_value(value: &'a Value) -> Result<Self, LogEventError> {
        if !value.is_object() {
            return Err(LogEventError {
                path: ".".into(),
                reason: "expected a JSON object".into(),
            });
        }
        // Read plainly; only a failure is read again, tracking the path to name the field (a
        // tenth of the relay's work per event when every event paid for it).
        let event = Self::deserialize(value).or_else(|_| {
            serde_path_to_error::deserialize(value).map_err(|error| LogEventError {
                path: error.path().to_string(),
                reason: error.into_inner().to_string(),
            })
        })?;
        for (path, text) in [("uuid", event.uuid), ("eventType", event.event_type)] {
            if text.trim().is_empty() {
                return Err(LogEventError {
                    path: path.into(),
                    reason: "must not be blank".into(),
                });
            }
        }
        // The uuid travels as the `Idempotency-Key` header, an SQS attribute and a DynamoDB key:
        // Okta's are 36 characters; anything a header cannot carry is a malformed event.
        let header_safe = event.uuid.len() <= MAX_UUID_LEN
            && event.uuid.bytes().all(|byte| byte.is_ascii_graphic());
        if !header_safe {
            return Err(LogEventError {
                path: "uuid".into(),
                reason: format!(
                    "must be at most {MAX_UUID_LEN} printable ASCII characters without spaces \
                     (Okta's uuids are 36)"
                ),
            });
        }
        Ok(event)
    }

    /// The event type's category, its first two segments: `user.session.start` is `user.session`.
    pub fn category(&self) -> &'a str {
        let event_type = self.event_type;
        match event_type.match_indices('.').nth(1) {
            Some((second_dot, _)) => &event_type[..second_dot],
            None => event_type,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn minimal() -> Value {
        json!({"uuid": "u-1", "eventType": "user.session.start", "published": "2026-11-24T09:15:02.512Z"})
    }

    #[test]
    fn minimal_event_reads_with_everything_else_absent() {
        let value = minimal();
        let event = LogEvent::from_value(&value).unwrap();
        assert_eq!(event.uuid, "u-1");
        assert!(event.actor.is_none() && event.targets.is_none() && event.client.is_none());
    }

    #[test]
    fn nulls_read_as_absent() {
        let mut value = minimal();
        value["actor"] = Value::Null;
        value["outcome"] = json!({"result": "SUCCESS", "reason": null});
        let event = LogEvent::from_value(&value).unwrap();
        assert!(event.actor.is_none());
        assert!(event.outcome.unwrap().reason.is_none());
    }

    #[test]
    fn wrong_type_names_the_field() {
        let mut value = minimal();
        value["actor"] = json!({"alternateId": 42});
        let error = LogEvent::from_value(&value).unwrap_err();
        assert_eq!(error.path, "actor.alternateId");
        assert!(error.to_string().contains("invalid type"), "{error}");
    }

    #[test]
    fn missing_uuid_and_bad_timestamp_are_errors() {
        let value = json!({"eventType": "x.y", "published": "2026-11-24T09:15:02Z"});
        assert!(
            LogEvent::from_value(&value)
                .unwrap_err()
                .reason
                .contains("uuid")
        );
        let value = json!({"uuid": "u", "eventType": "x.y", "published": "yesterday"});
        assert_eq!(LogEvent::from_value(&value).unwrap_err().path, "published");
        assert_eq!(LogEvent::from_value(&json!([1])).unwrap_err().path, ".");
        let value = json!({"uuid": " ", "eventType": "x.y", "published": "2026-11-24T09:15:02Z"});
        assert_eq!(LogEvent::from_value(&value).unwrap_err().path, "uuid");
        let value = json!({"uuid": "u", "eventType": "", "published": "2026-11-24T09:15:02Z"});
        assert_eq!(LogEvent::from_value(&value).unwrap_err().path, "eventType");
        for uuid in ["a\nb", "has space", "ünïcode", &"x".repeat(129)] {
            let value =
                json!({"uuid": uuid, "eventType": "x.y", "published": "2026-11-24T09:15:02Z"});
            assert_eq!(
                LogEvent::from_value(&value).unwrap_err().path,
                "uuid",
                "{uuid:?}"
            );
        }
    }

    #[test]
    fn category_is_the_first_two_segments() {
        let category = |event_type: &str| {
            let value =
                json!({"uuid": "u", "eventType": event_type, "published": "2026-11-24T09:15:02Z"});
            LogEvent::from_value(&value).unwrap().category().to_owned()
        };
        assert_eq!(category("user.session.start"), "user.session");
        assert_eq!(
            category("app.oauth2.as.token.grant.access_token"),
            "app.oauth2"
        );
        assert_eq!(
            category("policy.evaluate_sign_on"),
            "policy.evaluate_sign_on"
        );
        assert_eq!(category("single"), "single");
    }
}
