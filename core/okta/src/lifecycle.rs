//! Who turned a log stream off, from the System Log. Okta writes
//! `system.log_stream.lifecycle.deactivate` when a stream is deactivated (Okta's "Log streaming":
//! "You can view the system.log_stream.lifecycle.deactivate event in the System Log"), both when
//! it gives up on the target (after two failed delivery attempts) and when someone deactivates it.
//! The actor tells them apart: what Okta does on its own is logged with the actor "Okta System",
//! type `SystemPrincipal`, `system@okta.com` (Okta support, "What is the system@okta.com account
//! in System Logs used for"); anything else is a person, or an automation acting for one.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::LogEvent;

pub const DEACTIVATE_EVENT: &str = "system.log_stream.lifecycle.deactivate";
pub const ACTIVATE_EVENT: &str = "system.log_stream.lifecycle.activate";
/// The actor type of what Okta does on its own.
pub const SYSTEM_PRINCIPAL: &str = "SystemPrincipal";

/// A stream's deactivation as the System Log recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Deactivation {
    pub published: DateTime<Utc>,
    pub by: Who,
}

/// The actor of a lifecycle event, as an operator needs to read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Who {
    /// `actor.type`: `SystemPrincipal` for Okta itself, `User` for a person.
    pub kind: String,
    pub id: Option<String>,
    pub alternate_id: Option<String>,
    pub display_name: Option<String>,
}

impl Who {
    /// Okta deactivated it on its own (its target stopped acknowledging).
    pub fn is_okta(&self) -> bool {
        self.kind == SYSTEM_PRINCIPAL
    }
}

impl std::fmt::Display for Who {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = self
            .display_name
            .as_deref()
            .or(self.alternate_id.as_deref())
            .unwrap_or("unknown");
        write!(formatter, "{name}")?;
        if let Some(login) = self
            .alternate_id
            .as_deref()
            .filter(|login| Some(*login) != self.display_name.as_deref())
        {
            write!(formatter, " <{login}>")?;
        }
        write!(
            formatter,
            " ({} {})",
            self.kind,
            self.id.as_deref().unwrap_or("?")
        )
    }
}

impl Deactivation {
    /// Reads a `system.log_stream.lifecycle.deactivate` event; `None` for any other event or one
    /// without an actor.
    pub fn from_event(event: &Value) -> Option<Self> {
        let event = LogEvent::from_value(event).ok()?;
        if event.event_type != DEACTIVATE_EVENT {
            return None;
        }
        let actor = event.actor?;
        Some(Self {
            published: event.published,
            by: Who {
                kind: actor.kind.unwrap_or("unknown").to_owned(),
                id: actor.id.map(str::to_owned),
                alternate_id: actor.alternate_id.map(str::to_owned),
                display_name: actor.display_name.map(str::to_owned),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(actor: Value) -> Value {
        json!({"uuid": "u-1", "eventType": DEACTIVATE_EVENT, "published": "2026-11-25T10:00:00.000Z",
               "actor": actor, "target": [{"id": "0oa1", "type": "LogStream"}]})
    }

    #[test]
    fn okta_and_people_are_told_apart() {
        let by_okta = Deactivation::from_event(&event(json!({
            "id": "0oa0system", "type": "SystemPrincipal", "alternateId": "system@okta.com", "displayName": "Okta System"
        })))
        .unwrap();
        assert!(by_okta.by.is_okta());
        let by_admin = Deactivation::from_event(&event(json!({
            "id": "00u1", "type": "User", "alternateId": "jane@acme.com", "displayName": "Jane Admin"
        })))
        .unwrap();
        assert!(!by_admin.by.is_okta());
        assert_eq!(
            by_admin.by.to_string(),
            "Jane Admin <jane@acme.com> (User 00u1)"
        );
        assert_eq!(
            by_admin.published,
            "2026-11-25T10:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
    }

    #[test]
    fn other_events_and_actorless_ones_are_not_deactivations() {
        let mut other = event(json!({"type": "User"}));
        other["eventType"] = json!(ACTIVATE_EVENT);
        assert_eq!(Deactivation::from_event(&other), None);
        let mut actorless = event(json!(null));
        actorless.as_object_mut().unwrap().remove("actor");
        assert_eq!(Deactivation::from_event(&actorless), None);
    }
}
