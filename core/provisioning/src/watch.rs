//! The watchdog's check: Okta deactivates a log stream when its target stops acknowledging, and
//! then sends nothing until someone activates it again. Find the stream, activate it if Okta
//! deactivated it, and say for how long it was out.

use okta::{AwsSettings, LogStreamStatus};
use serde::Serialize;

use crate::error::ProvisionError;
use crate::observe::find_by_settings;
use crate::ports::{EventBuses, LogStreams};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamHealth {
    /// Streaming.
    Active,
    /// Was inactive and has been activated again.
    Reactivated,
    /// No `aws_eventbridge` stream with these settings: provisioning's job, not the watchdog's.
    Missing,
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Watch {
    pub health: StreamHealth,
    pub log_stream_id: Option<String>,
    /// When Okta last changed the stream before the watchdog activated it (its `lastUpdated`):
    /// the start of the outage, to backfill from.
    pub inactive_since: Option<String>,
    pub partner_event_source_state: Option<String>,
}

/// Checks the stream streaming to `partner_source` and activates it if it is inactive.
pub async fn watch(
    settings: &AwsSettings,
    partner_source: &str,
    okta: &impl LogStreams,
    aws: &impl EventBuses,
) -> Result<Watch, ProvisionError> {
    let streams = okta
        .list_aws()
        .await
        .map_err(ProvisionError::step("listing Okta log streams"))?;
    let partner_event_source_state = aws
        .event_source_state(partner_source)
        .await
        .map_err(ProvisionError::step("describing the partner event source"))?;
    let Some(stream) = find_by_settings(&streams, settings) else {
        return Ok(Watch {
            health: StreamHealth::Missing,
            log_stream_id: None,
            inactive_since: None,
            partner_event_source_state,
        });
    };
    if stream.status == LogStreamStatus::Active {
        return Ok(Watch {
            health: StreamHealth::Active,
            log_stream_id: Some(stream.id),
            inactive_since: None,
            partner_event_source_state,
        });
    }
    okta.activate(&stream.id)
        .await
        .map_err(ProvisionError::step(format!(
            "activating Okta log stream `{}` ({})",
            stream.name, stream.id
        )))?;
    Ok(Watch {
        health: StreamHealth::Reactivated,
        log_stream_id: Some(stream.id),
        inactive_since: stream.last_updated,
        partner_event_source_state,
    })
}
