use std::time::Duration;

use crate::ports::PortError;
use crate::spec::SpecError;

#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error("invalid input: {0}")]
    Invalid(#[from] SpecError),
    /// A call to Okta or AWS failed; `source` says what the service answered.
    #[error("{step}: {source}")]
    Step { step: String, source: PortError },
    #[error(
        "Okta log stream {id} already holds the name `{name}` but streams to another event source \
         (Okta's names are unique and its settings write-once): choose another LogStreamName, or \
         delete that stream"
    )]
    NameTaken { name: String, id: String },
    #[error(
        "Okta allows two log streams per org, and this org has them: {streams}. Delete one that \
         is no longer needed (Admin Console, Reports, Log Streaming), or deploy with the settings \
         of an existing aws_eventbridge stream; nothing was changed"
    )]
    StreamLimit { streams: String },
    #[error(
        "{what} already belong to {owner}: this deployment would share them, rewrite their rule \
         and delete them with itself. Deploy with other EventSourceName, LogStreamName and \
         RuleName, or take them over with AdoptExisting=true (CLI: --adopt-existing, or \
         --owner to act for their owner); nothing was changed"
    )]
    OwnedElsewhere { what: String, owner: String },
    #[error(
        "partner event source {name} did not appear in EventBridge within {waited:?} ({last}); \
         check that the Okta log stream's AccountId and Region are this account and region, then \
         retry"
    )]
    PartnerSourceMissing {
        name: String,
        waited: Duration,
        last: String,
    },
}

impl ProvisionError {
    /// Wraps an adapter's error with the step that failed: `map_err(ProvisionError::step(..))`.
    pub fn step(step: impl Into<String>) -> impl FnOnce(PortError) -> Self {
        let step = step.into();
        move |source| Self::Step { step, source }
    }
}
