//! Dead letters: what failed, with everything a redrive needs to resend exactly that.
//! One record per failed route, or one per rejected payload. The JSON form is a contract
//! (`schema` names its version) read by `okta-relay redrive` and by people.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const SCHEMA: &str = "okta-relay.dead-letter/v1";
/// The largest letter body a dead-letter queue message carries: SQS's maximum message size as
/// the template sets it (`MaximumMessageSize: 262144`, 256 KiB), less 1 KiB for the message
/// attributes (`kind`, `route`, `uuid`), which count towards the same limit.
pub const MAX_LETTER_BYTES: usize = 256 * 1024 - 1024;
/// How much of a rejected payload a dead letter keeps; enough to see what it was.
pub const REJECTED_PAYLOAD_KEEP_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DeadLetter {
    DeliveryFailed(FailedDelivery),
    BadInput(RejectedInput),
}

/// A route that could not be delivered: the event as received and the last thing that went wrong.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FailedDelivery {
    pub schema: String,
    pub uuid: String,
    pub route: String,
    /// The endpoint at the time (never with a token).
    pub endpoint: String,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_status: Option<u16>,
    pub attempts: u32,
    /// `true` when the endpoint refused it (4xx other than 408/429) rather than being unavailable.
    pub permanent: bool,
    pub first_attempt_at: String,
    pub last_attempt_at: String,
    pub dead_lettered_at: String,
    /// The EventBridge event exactly as the relay received it; when `eventTruncated`, the start
    /// of its JSON text as a string, cut to fit the queue.
    pub event: Value,
    /// The event was too large for the letter to fit the queue (JSON escaping can grow text six
    /// times): `event` holds its start, and a redrive cannot resend it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub event_truncated: bool,
}

/// A payload the relay could not read.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RejectedInput {
    pub schema: String,
    pub reason: String,
    /// The payload as text (invalid UTF-8 replaced), cut at [`REJECTED_PAYLOAD_KEEP_BYTES`].
    pub payload: String,
    pub payload_bytes: usize,
    pub truncated: bool,
    pub dead_lettered_at: String,
}

impl DeadLetter {
    pub fn rejected(payload: &[u8], reason: String, now: DateTime<Utc>) -> Self {
        let kept = &payload[..payload.len().min(REJECTED_PAYLOAD_KEEP_BYTES)];
        Self::BadInput(RejectedInput {
            schema: SCHEMA.into(),
            reason,
            payload: String::from_utf8_lossy(kept).into_owned(),
            payload_bytes: payload.len(),
            truncated: kept.len() < payload.len(),
            dead_lettered_at: timestamp(now),
        })
    }

    /// The event uuid, when the payload got far enough to have one.
    pub fn uuid(&self) -> Option<&str> {
        match self {
            Self::DeliveryFailed(failed) => Some(&failed.uuid),
            Self::BadInput(_) => None,
        }
    }

    pub fn route(&self) -> Option<&str> {
        match self {
            Self::DeliveryFailed(failed) => Some(&failed.route),
            Self::BadInput(_) => None,
        }
    }

    pub fn reason(&self) -> &str {
        match self {
            Self::DeliveryFailed(failed) => &failed.reason,
            Self::BadInput(rejected) => &rejected.reason,
        }
    }

    /// The letter as a queue message body of at most `max` bytes. A letter that would be larger
    /// keeps its ids, reason and times whole and cuts the copied event (or payload), saying so.
    pub fn to_body(&self, max: usize) -> String {
        let body = serde_json::to_string(self).unwrap_or_default();
        if body.len() <= max {
            return body;
        }
        let mut cut = self.clone();
        let whole = match &mut cut {
            Self::DeliveryFailed(failed) => {
                failed.event_truncated = true;
                failed.event.to_string()
            }
            Self::BadInput(rejected) => {
                rejected.truncated = true;
                std::mem::take(&mut rejected.payload)
            }
        };
        let mut keep = whole.len();
        loop {
            let prefix = prefix_of(&whole, keep).to_owned();
            match &mut cut {
                Self::DeliveryFailed(failed) => failed.event = Value::String(prefix),
                Self::BadInput(rejected) => rejected.payload = prefix,
            }
            let body = serde_json::to_string(&cut).unwrap_or_default();
            // Each character dropped shrinks the body by at least one byte, so cutting the
            // excess again converges in a step or two, even through six-fold escaping.
            match body.len().checked_sub(max) {
                None | Some(0) => return body,
                Some(_) if keep == 0 => return body,
                Some(excess) => keep = keep.saturating_sub(excess),
            }
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Self::DeliveryFailed(_) => "delivery_failed",
            Self::BadInput(_) => "bad_input",
        }
    }
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
fn prefix_of(text: &str, max: usize) -> &str {
    let mut end = max.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

pub fn timestamp(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rejected_payloads_are_cut_and_say_so() {
        let now = "2026-11-25T10:00:00Z".parse().unwrap();
        let big = vec![b'x'; REJECTED_PAYLOAD_KEEP_BYTES + 10];
        let DeadLetter::BadInput(rejected) = DeadLetter::rejected(&big, "too big".into(), now)
        else {
            panic!()
        };
        assert_eq!(
            (
                rejected.payload.len(),
                rejected.payload_bytes,
                rejected.truncated
            ),
            (REJECTED_PAYLOAD_KEEP_BYTES, big.len(), true)
        );
        let DeadLetter::BadInput(rejected) = DeadLetter::rejected(b"\xff{", "not json".into(), now)
        else {
            panic!()
        };
        assert_eq!(
            (rejected.payload.as_str(), rejected.truncated),
            ("\u{fffd}{", false)
        );
    }

    #[test]
    fn every_letter_fits_the_queue_even_when_escaping_grows_it_sixfold() {
        let now = "2026-11-25T10:00:00Z".parse().unwrap();
        // Control bytes escape to `\u0001` (six bytes each), at the event and again in the letter.
        let detail = "\u{1}".repeat(40_000) + &"x".repeat(200_000);
        let letter = DeadLetter::DeliveryFailed(FailedDelivery {
            schema: SCHEMA.into(),
            uuid: "u-1".into(),
            route: "alerts".into(),
            endpoint: "https://example.workflows.okta.com/api/flo/abc/invoke".into(),
            reason: "HTTP 503".into(),
            last_status: Some(503),
            attempts: 6,
            permanent: false,
            first_attempt_at: timestamp(now),
            last_attempt_at: timestamp(now),
            dead_lettered_at: timestamp(now),
            event: json!({"detail": {"uuid": "u-1", "displayMessage": detail}}),
            event_truncated: false,
        });
        let body = letter.to_body(MAX_LETTER_BYTES);
        assert!(body.len() <= MAX_LETTER_BYTES, "{} bytes", body.len());
        // Cutting inside a run of escapes removes a little more than the excess; most of the
        // room is kept.
        assert!(
            body.len() > MAX_LETTER_BYTES * 9 / 10,
            "cut far more than needed: {} bytes",
            body.len()
        );
        let read: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            (read["uuid"].as_str(), read["eventTruncated"].as_bool()),
            (Some("u-1"), Some(true))
        );
        assert!(read["event"].as_str().unwrap().starts_with("{\"detail\""));

        let rejected = DeadLetter::rejected(&[1u8; 300_000], "not JSON".into(), now);
        let body = rejected.to_body(MAX_LETTER_BYTES);
        assert!(body.len() <= MAX_LETTER_BYTES, "{} bytes", body.len());
        let small = DeadLetter::rejected(b"{}", "x".into(), now);
        assert_eq!(
            small.to_body(MAX_LETTER_BYTES),
            serde_json::to_string(&small).unwrap()
        );
    }

    #[test]
    fn json_form_is_tagged_and_round_trips() {
        let letter = DeadLetter::DeliveryFailed(FailedDelivery {
            schema: SCHEMA.into(),
            uuid: "u-1".into(),
            route: "alerts".into(),
            endpoint: "https://example.workflows.okta.com/api/flo/abc/invoke".into(),
            reason: "HTTP 503 Service Unavailable".into(),
            last_status: Some(503),
            attempts: 4,
            permanent: false,
            first_attempt_at: "2026-11-25T10:00:00.000Z".into(),
            last_attempt_at: "2026-11-25T10:00:03.000Z".into(),
            dead_lettered_at: "2026-11-25T10:00:03.010Z".into(),
            event: json!({"detail": {"uuid": "u-1"}}),
            event_truncated: false,
        });
        let text = serde_json::to_value(&letter).unwrap();
        assert_eq!(text["kind"], "delivery_failed");
        assert_eq!(text["lastStatus"], 503);
        assert_eq!(serde_json::from_value::<DeadLetter>(text).unwrap(), letter);
    }
}
