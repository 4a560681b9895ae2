//! Redrive: what a dead-letter queue message asks to be sent again, and sending it. The queue
//! holds two formats: okta-relay's own letters (`okta-relay.dead-letter/v1`, one per failed
//! route) and the records Lambda's on-failure destination writes when a whole invocation failed.
//! [`drain`] walks the queue (the [`DeadLetterQueue`] port) for `okta-relay redrive` and the
//! redrive Lambda alike: a message is deleted only after every route it was for accepted it.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::join_all;
use serde_json::Value;

use crate::dead_letter;
use crate::enrich::EnrichContext;
use crate::pipeline::{Deliver, DeliveryRequest, plan};
use crate::routes::{Route, RouteTable};
use okta::OrgUrl;
use serde::Serialize;

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
    #[error(
        "the event (uuid {0}) was too large for the dead-letter queue and only its start was \
         kept; relay it again from Okta's System Log (okta-relay backfill over the minute it was \
         published) and delete this letter"
    )]
    Truncated(String),
}

/// Reads one queue message body.
pub fn read_dead_letter(body: &str) -> Result<Redrive, NotRedrivable> {
    let value: Value = serde_json::from_str(body)
        .map_err(|error| NotRedrivable::Unknown(format!("not JSON: {error}")))?;
    if value["schema"] == dead_letter::SCHEMA {
        return match value["kind"].as_str() {
            Some("delivery_failed") => {
                let text = |field: &str| value[field].as_str().map(str::to_string);
                if value["eventTruncated"] == true {
                    return Err(NotRedrivable::Truncated(
                        text("uuid").unwrap_or_else(|| "unknown".into()),
                    ));
                }
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

/// A message read from the dead-letter queue: its body, and the handle that deletes it.
#[derive(Debug, Clone)]
pub struct QueuedLetter {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
}

/// The dead-letter queue as a redrive reads it (SQS in `aws-adapters`).
pub trait DeadLetterQueue: Sync {
    /// Up to a batch of messages, hidden from other readers for `hide` (they come back if not
    /// deleted, so a failed redrive loses nothing).
    fn receive(
        &self,
        hide: Duration,
    ) -> impl Future<Output = Result<Vec<QueuedLetter>, String>> + Send;
    fn delete(&self, letter: &QueuedLetter) -> impl Future<Output = Result<(), String>> + Send;
    /// Makes the message visible again at once, for the next reader.
    fn release(&self, letter: &QueuedLetter) -> impl Future<Output = Result<(), String>> + Send;
}

/// How a drain runs.
#[derive(Debug, Clone)]
pub struct DrainOptions {
    /// List what would be sent; send nothing, delete nothing.
    pub dry_run: bool,
    /// Messages to handle at most.
    pub limit: usize,
    /// Time each message may take, retries included.
    pub budget: Duration,
}

/// What happened to one message.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum Handled {
    /// Sent to every route it was for, then deleted.
    Redriven {
        message_id: String,
        uuid: String,
        routes: Vec<String>,
    },
    /// `dry_run`: would be sent to these routes; kept.
    WouldSend {
        message_id: String,
        uuid: String,
        routes: Vec<String>,
    },
    /// Failed again, or the route is gone; kept.
    Kept {
        message_id: String,
        uuid: Option<String>,
        reason: String,
    },
    /// Cannot be sent again (a rejected payload, an unknown format); kept for a person.
    NotRedrivable { message_id: String, reason: String },
}

/// Counts of a drain's outcomes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tally {
    pub redriven: usize,
    pub would_send: usize,
    pub kept: usize,
    pub not_redrivable: usize,
}

impl Tally {
    pub fn count(&mut self, handled: &Handled) {
        match handled {
            Handled::Redriven { .. } => self.redriven += 1,
            Handled::WouldSend { .. } => self.would_send += 1,
            Handled::Kept { .. } => self.kept += 1,
            Handled::NotRedrivable { .. } => self.not_redrivable += 1,
        }
    }

    /// Messages still in the queue that need a person or another redrive.
    pub fn left(&self) -> usize {
        self.kept + self.not_redrivable
    }
}

/// Reads the queue until it is empty (or `options.limit` messages, or `keep_going` says stop),
/// sends each message again with the current `table` and deletes what every route accepted.
/// Messages that stay (failed again, not redrivable, a dry run, not reached) are kept hidden
/// while the drain goes on, so each is handled once and none starves the unread ones, and made
/// visible again at the end. `on_message` hears every outcome. An error (the queue cannot be
/// read or written) ends the drain; what was not deleted stays in the queue.
pub async fn drain(
    queue: &impl DeadLetterQueue,
    table: &RouteTable,
    org: Option<&OrgUrl>,
    deliver: &impl Deliver,
    options: &DrainOptions,
    keep_going: impl Fn() -> bool,
    mut on_message: impl FnMut(&Handled),
) -> Result<Tally, String> {
    let mut tally = Tally::default();
    let mut seen = HashSet::new();
    let mut kept: HashMap<String, QueuedLetter> = HashMap::new();
    // Hidden long enough for the message's deliveries; SQS allows 12 hours at most.
    let hide = (options.budget * 2).min(Duration::from_secs(43_200));
    let read = async {
        while seen.len() < options.limit && keep_going() {
            let batch = queue.receive(hide).await?;
            if batch.is_empty() {
                break;
            }
            for letter in batch {
                // A kept message whose hiding ran out is hidden again by this read: keep its
                // newest handle. One not reached stays too.
                if seen.len() >= options.limit
                    || !keep_going()
                    || !seen.insert(letter.message_id.clone())
                {
                    kept.insert(letter.message_id.clone(), letter);
                    continue;
                }
                let handled = redrive_one(&letter, table, org, deliver, options).await;
                if let Handled::Redriven { .. } = handled {
                    queue.delete(&letter).await?;
                } else {
                    kept.insert(letter.message_id.clone(), letter);
                }
                tally.count(&handled);
                on_message(&handled);
            }
        }
        Ok::<(), String>(())
    }
    .await;
    let mut released = Ok(());
    for letter in kept.values() {
        if let Err(error) = queue.release(letter).await {
            released = Err(error);
        }
    }
    read.and(released).map(|()| tally)
}

async fn redrive_one(
    letter: &QueuedLetter,
    table: &RouteTable,
    org: Option<&OrgUrl>,
    deliver: &impl Deliver,
    options: &DrainOptions,
) -> Handled {
    let message_id = letter.message_id.clone();
    let redrive = match read_dead_letter(&letter.body) {
        Ok(redrive) => redrive,
        Err(reason) => {
            return Handled::NotRedrivable {
                message_id,
                reason: reason.to_string(),
            };
        }
    };
    let context = EnrichContext {
        org,
        now: chrono::Utc::now(),
    };
    let selected = match select(&redrive, table, &context) {
        Ok(selected) => selected,
        Err(reason) => {
            return Handled::Kept {
                message_id,
                uuid: None,
                reason,
            };
        }
    };
    let uuid = selected.uuid.clone();
    if options.dry_run {
        let routes = selected
            .deliveries
            .iter()
            .map(|(route, _)| route.name.clone())
            .collect();
        return Handled::WouldSend {
            message_id,
            uuid,
            routes,
        };
    }
    match send(&selected, deliver, options.budget).await {
        RedriveOutcome::Delivered { routes } => Handled::Redriven {
            message_id,
            uuid,
            routes,
        },
        RedriveOutcome::Failed { reason } => Handled::Kept {
            message_id,
            uuid: Some(uuid),
            reason,
        },
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
