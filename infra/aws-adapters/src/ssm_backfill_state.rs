//! The watchdog's pending backfill windows, kept in one SSM String parameter (the template's
//! `BackfillStateParameter`, created as `{"gaps":[]}`) so that a window outlives a run that
//! ran out of time or failed. The watchdog writes it (reserved concurrency 1); the provisioner
//! adds a new stream's unrouted first seconds, once, at creation. The two read-modify-write
//! without a lock: a collision is rare (one provisioner write per stream) and costs at worst a
//! page read again (de-duplication skips it) or that one window, which the provisioner's log
//! names for a manual backfill.

use aws_sdk_ssm::types::ParameterType;
use relay_core::backfill::{Gap, PendingBackfill};

use crate::{ParameterError, describe, read_parameter};

/// The backfill windows could not be read or saved; the watchdog's run fails and the next one
/// tries again.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BackfillStateError {
    #[error(transparent)]
    Unreadable(#[from] ParameterError),
    #[error(
        "SSM parameter {name} does not hold backfill windows ({reason}); put {{\"gaps\":[]}} in \
         it to start over"
    )]
    Malformed { name: String, reason: String },
    #[error("saving the pending backfill windows to SSM parameter {name}: {reason}")]
    Unsaved { name: String, reason: String },
}

pub struct SsmBackfillState {
    client: aws_sdk_ssm::Client,
    parameter: String,
}

impl SsmBackfillState {
    pub fn new(client: aws_sdk_ssm::Client, parameter: String) -> Self {
        Self { client, parameter }
    }

    pub async fn load(&self) -> Result<PendingBackfill, BackfillStateError> {
        let text = read_parameter(
            &self.client,
            &self.parameter,
            "the pending backfill windows",
        )
        .await?;
        serde_json::from_str(&text).map_err(|error| BackfillStateError::Malformed {
            name: self.parameter.clone(),
            reason: error.to_string(),
        })
    }

    /// Adds a window to the pending ones ([`PendingBackfill::add`]) and saves them; answers
    /// what is pending now.
    pub async fn add(&self, gap: Gap) -> Result<PendingBackfill, BackfillStateError> {
        let mut pending = self.load().await?;
        pending.add(gap);
        self.save(&pending).await?;
        Ok(pending)
    }

    pub async fn save(&self, pending: &PendingBackfill) -> Result<(), BackfillStateError> {
        let unsaved = |reason: String| BackfillStateError::Unsaved {
            name: self.parameter.clone(),
            reason,
        };
        let text = serde_json::to_string(pending).map_err(|error| unsaved(error.to_string()))?;
        self.client
            .put_parameter()
            .name(&self.parameter)
            .value(text)
            .r#type(ParameterType::String)
            .overwrite(true)
            .send()
            .await
            .map(|_| ())
            .map_err(|error| unsaved(describe(&error)))
    }
}

impl relay_core::backfill::BackfillProgress for SsmBackfillState {
    async fn save(
        &self,
        pending: &PendingBackfill,
    ) -> Result<(), relay_core::backfill::ProgressError> {
        SsmBackfillState::save(self, pending)
            .await
            .map_err(|error| relay_core::backfill::ProgressError(error.to_string()))
    }
}
