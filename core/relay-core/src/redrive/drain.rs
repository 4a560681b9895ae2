//! Draining the dead-letter queue ([`drain`]) for `okta-relay redrive` and the redrive Lambda
//! alike: each message goes back to the inbox, owing the routes it failed on, and is deleted
//! only once the inbox has it.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::time::Duration;

use okta::OrgUrl;
use serde::Serialize;

use super::{read_dead_letter, select};
use crate::enrich::EnrichContext;
use crate::inbox::Inbox;
use crate::routes::RouteTable;

/// A message read from the dead-letter queue: its body, and the handle that deletes it.
#[derive(Debug, Clone)]
pub struct QueuedLetter {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    /// When the queue received it (SQS `SentTimestamp`), if it says.
    pub sent_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The dead-letter queue as a redrive reads it (SQS in `aws-adapters`).
pub trait DeadLetterQueue: Sync {
    /// Up to a batch of messages, hidden from other readers for `hide` (they come back if not
    /// deleted, so a failed redrive loses nothing).
    fn receive(
        &self,
        hide: Duration,
    ) -> impl Future<Output = Result<Vec<QueuedLetter>, QueueError>> + Send;
    fn delete(&self, letter: &QueuedLetter) -> impl Future<Output = Result<(), QueueError>> + Send;
    /// Makes the message visible again at once, for the next reader.
    fn release(&self, letter: &QueuedLetter)
    -> impl Future<Output = Result<(), QueueError>> + Send;
}

/// The dead-letter queue could not be read or changed; what was not deleted stays in it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("could not {action} the dead-letter queue {queue}: {reason}")]
pub struct QueueError {
    /// `read`, `delete a message from`, `release a message to`.
    pub action: &'static str,
    pub queue: String,
    pub reason: String,
}

/// How a drain runs.
#[derive(Debug, Clone)]
pub struct DrainOptions {
    /// List what would be sent; send nothing, delete nothing.
    pub dry_run: bool,
    /// Messages to handle at most.
    pub limit: usize,
    /// How long a message read stays hidden from other readers while the drain goes on (SQS
    /// allows 12 hours at most).
    pub hide: Duration,
}

/// What happened to one message.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum Handled {
    /// Back in the inbox for every route it was for, then deleted.
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
    /// The route is gone, or the inbox could not take it; kept.
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
/// puts each message back in the inbox with the current `table` and deletes it once the inbox
/// has it. Only what was in the queue when the drain began is handled: a flow that still
/// refuses makes the relay dead-letter the event again, and a drain that took the new letter too
/// would chase it for ever. Messages that stay (route gone, not redrivable, a dry run, newer
/// than the drain, not reached) are kept hidden
/// while the drain goes on, so each is handled once and none starves the unread ones, and made
/// visible again at the end. `on_message` hears every outcome. An error (the queue cannot be
/// read or written) ends the drain; what was not deleted stays in the queue.
pub async fn drain(
    queue: &impl DeadLetterQueue,
    redriver: &Redriver<'_, impl Inbox>,
    options: &DrainOptions,
    keep_going: impl Fn() -> bool,
    mut on_message: impl FnMut(&Handled),
) -> Result<Tally, QueueError> {
    let began = chrono::Utc::now();
    let mut tally = Tally::default();
    let mut seen = HashSet::new();
    let mut kept: HashMap<String, QueuedLetter> = HashMap::new();
    let hide = options.hide.min(Duration::from_secs(43_200));
    let read = async {
        while seen.len() < options.limit && keep_going() {
            let batch = queue.receive(hide).await?;
            if batch.is_empty() {
                break;
            }
            for letter in batch {
                // A kept message whose hiding ran out is hidden again by this read: keep its
                // newest handle. One not reached stays too.
                let newer = letter.sent_at.is_some_and(|sent| sent > began);
                if newer
                    || seen.len() >= options.limit
                    || !keep_going()
                    || !seen.insert(letter.message_id.clone())
                {
                    kept.insert(letter.message_id.clone(), letter);
                    continue;
                }
                let handled = redriver.redrive(&letter, options.dry_run).await;
                if let Handled::Redriven { .. } = handled {
                    queue.delete(&letter).await?;
                } else {
                    kept.insert(letter.message_id.clone(), letter);
                }
                tally.count(&handled);
                on_message(&handled);
            }
        }
        Ok::<(), QueueError>(())
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

/// What a redrive sends with: today's route table, and the inbox the relay reads.
pub struct Redriver<'a, I> {
    pub table: &'a RouteTable,
    pub org: Option<&'a OrgUrl>,
    pub inbox: &'a I,
}

impl<I: Inbox> Redriver<'_, I> {
    /// Reads one message and puts it back in the inbox (or, for `dry_run`, says what it would
    /// send).
    pub async fn redrive(&self, letter: &QueuedLetter, dry_run: bool) -> Handled {
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
        let now = chrono::Utc::now();
        let context = EnrichContext { org: self.org, now };
        let selected = match select(&redrive, self.table, &context) {
            Ok(selected) => selected,
            Err(reason) => {
                return Handled::Kept {
                    message_id,
                    uuid: None,
                    reason: reason.to_string(),
                };
            }
        };
        let uuid = selected.uuid.clone();
        let routes = selected.routes.clone();
        if dry_run {
            return Handled::WouldSend {
                message_id,
                uuid,
                routes,
            };
        }
        // An event no route wants any more is settled as the relay would settle it: filtered.
        if !routes.is_empty()
            && let Err(error) = self.inbox.send(&[selected.enqueue(now)]).await
        {
            return Handled::Kept {
                message_id,
                uuid: Some(uuid),
                reason: error.to_string(),
            };
        }
        Handled::Redriven {
            message_id,
            uuid,
            routes,
        }
    }
}
