//! Redrive: what a dead-letter queue message asks to be sent again, and sending it. The queue
//! holds two formats: okta-relay's own letters (`okta-relay.dead-letter/v1`, one per failed
//! route) and the records Lambda's on-failure destination writes when a whole invocation failed.

use std::time::Duration;

use bytes::Bytes;
use futures_util::future::join_all;
use serde_json::Value;

use crate::dead_letter;
use crate::enrich::EnrichContext;
use crate::pipeline::{Deliver, DeliveryRequest, plan};
use crate::routes::{Route, RouteTable};

/// What to send again.
#[derive(Debug, Clone, PartialEq)]
pub enum Redrive {
    /// One route failed: resend the event to that route only.
    Route {
        uuid: String,
        route: String,
        event: Value,
    },
    /// The whole invocation failed (Lambda's record): relay the event to every route it matches.
    Event { event: Value },
}

/// Why a message cannot be sent again; it stays in the queue for a person.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NotRedrivable {
    #[error("the relay rejected this payload ({0}); sending it again cannot help")]
    BadInput(String),
    #[error("not a dead letter okta-relay knows: {0}")]
    Unknown(String),
}

/// Reads one queue message body.
pub fn read_dead_letter(body: &str) -> Result<Redrive, NotRedrivable> {
    let value: Value = serde_json::from_str(body)
        .map_err(|error| NotRedrivable::Unknown(format!("not JSON: {error}")))?;
    if value["schema"] == dead_letter::SCHEMA {
        return match value["kind"].as_str() {
            Some("delivery_failed") => {
                let text = |field: &str| value[field].as_str().map(str::to_string);
                match (text("uuid"), text("route"), value.get("event")) {
                    (Some(uuid), Some(route), Some(event)) => Ok(Redrive::Route {
                        uuid,
                        route,
                        event: event.clone(),
                    }),
                    _ => Err(NotRedrivable::Unknown(
                        "a delivery_failed letter without uuid, route or event".into(),
                    )),
                }
            }
            Some("bad_input") => Err(NotRedrivable::BadInput(
                value["reason"].as_str().unwrap_or("no reason").to_string(),
            )),
            other => Err(NotRedrivable::Unknown(format!("kind {other:?}"))),
        };
    }
    // Lambda's on-failure destination: {"version": "1.0", "requestContext": …, "requestPayload": …}.
    match (value.get("requestContext"), value.get("requestPayload")) {
        (Some(_), Some(event)) if event.is_object() => Ok(Redrive::Event {
            event: event.clone(),
        }),
        _ => Err(NotRedrivable::Unknown(
            "neither an okta-relay dead letter nor a Lambda invocation record".into(),
        )),
    }
}

/// How one redrive went.
#[derive(Debug, Clone, PartialEq)]
pub enum RedriveOutcome {
    /// Every route it was for accepted it: the message can be deleted.
    Delivered { routes: Vec<String> },
    /// It stays in the queue.
    Failed { reason: String },
}

/// The deliveries a redrive makes: the event planned with the current route table, kept to the
/// failed route (a letter) or all matching routes (a Lambda record).
#[derive(Debug)]
pub struct Selected<'t> {
    pub uuid: String,
    pub deliveries: Vec<(&'t Route, Bytes)>,
}

/// Plans what a redrive would send; an error says why it cannot (the route is gone, the event
/// no longer reads).
pub fn select<'t>(
    redrive: &Redrive,
    table: &'t RouteTable,
    context: &EnrichContext<'_>,
) -> Result<Selected<'t>, String> {
    let event = match redrive {
        Redrive::Route { event, .. } | Redrive::Event { event } => event,
    };
    let bytes = serde_json::to_vec(event).map_err(|error| error.to_string())?;
    let planned = plan(&bytes, table, context).map_err(|error| error.to_string())?;
    let deliveries: Vec<(&Route, Bytes)> = planned
        .deliveries
        .into_iter()
        .filter(|(route, _)| match redrive {
            Redrive::Route { route: name, .. } => &route.name == name,
            Redrive::Event { .. } => true,
        })
        .collect();
    if let Redrive::Route { route, .. } = redrive
        && deliveries.is_empty()
    {
        return Err(format!(
            "route `{route}` is no longer in the route table or no longer matches this event"
        ));
    }
    Ok(Selected {
        uuid: planned.uuid,
        deliveries,
    })
}

/// Sends the selected deliveries, concurrently, each under the delivery retry policy.
pub async fn send(
    selected: &Selected<'_>,
    deliver: &impl Deliver,
    budget: Duration,
) -> RedriveOutcome {
    let reports = join_all(selected.deliveries.iter().map(|(route, body)| {
        deliver.deliver(DeliveryRequest {
            route,
            uuid: &selected.uuid,
            body: body.clone(),
            budget,
        })
    }))
    .await;
    let failures: Vec<String> = selected
        .deliveries
        .iter()
        .zip(&reports)
        .filter_map(|((route, _), report)| {
            let failure = report.result.as_ref().err()?;
            Some(format!("{}: {}", route.name, failure.reason))
        })
        .collect();
    if failures.is_empty() {
        RedriveOutcome::Delivered {
            routes: selected
                .deliveries
                .iter()
                .map(|(route, _)| route.name.clone())
                .collect(),
        }
    } else {
        RedriveOutcome::Failed {
            reason: failures.join("; "),
        }
    }
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
    }
}
