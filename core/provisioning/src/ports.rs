//! What the provisioner needs from Okta and from EventBridge. The adapters (`okta-api`,
//! `aws-adapters`) implement these; tests use in-memory fakes.

use std::future::Future;

use okta::{Deactivation, LogStream, LogStreamRequest};

use crate::spec::{RuleSpec, TargetSpec};

/// An adapter's error: its message says what failed and what to do. Boxed so each adapter keeps
/// its own `thiserror` enum.
pub type PortError = Box<dyn std::error::Error + Send + Sync>;

/// Okta's Log Streams API. Calls that find nothing answer `None`/`Ok`, so every step can be
/// repeated and converge.
pub trait LogStreams: Sync {
    /// Every log stream in the org, of every type, all pages.
    fn list(&self) -> impl Future<Output = Result<Vec<LogStream>, PortError>> + Send;
    fn create(
        &self,
        request: &LogStreamRequest,
    ) -> impl Future<Output = Result<LogStream, PortError>> + Send;
    fn replace(
        &self,
        id: &str,
        request: &LogStreamRequest,
    ) -> impl Future<Output = Result<LogStream, PortError>> + Send;
    fn activate(&self, id: &str) -> impl Future<Output = Result<LogStream, PortError>> + Send;
    fn deactivate(&self, id: &str) -> impl Future<Output = Result<LogStream, PortError>> + Send;
    /// Deletes the stream; one that is already gone counts as deleted.
    fn delete(&self, id: &str) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// What the System Log says about a stream's life (`okta-api` reads it).
pub trait StreamHistory: Sync {
    /// The stream's most recent `system.log_stream.lifecycle.deactivate` event within the
    /// System Log's retention, or `None` when the log holds none.
    fn last_deactivation(
        &self,
        log_stream_id: &str,
    ) -> impl Future<Output = Result<Option<Deactivation>, PortError>> + Send;
}

/// A rule as EventBridge holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleState {
    pub arn: String,
    pub pattern: Option<String>,
    pub description: Option<String>,
    pub enabled: bool,
}

/// A rule's target as EventBridge holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetState {
    pub id: String,
    pub arn: String,
    pub dead_letter_arn: Option<String>,
    pub maximum_retry_attempts: Option<u32>,
    pub maximum_event_age_seconds: Option<u32>,
}

impl TargetState {
    pub fn matches(&self, spec: &TargetSpec) -> bool {
        self.id == spec.id
            && self.arn == spec.arn
            && self.dead_letter_arn == spec.dead_letter_arn
            && self.maximum_retry_attempts == Some(spec.maximum_retry_attempts)
            && self.maximum_event_age_seconds == Some(spec.maximum_event_age_seconds)
    }
}

/// EventBridge: the partner event source, the bus associated with it, the rule and its target.
/// Deleting what is not there succeeds.
pub trait EventBuses: Sync {
    /// The partner event source's state (`PENDING`, `ACTIVE`, `DELETED`), `None` if unknown.
    fn event_source_state(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<String>, PortError>> + Send;
    fn event_bus_arn(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<String>, PortError>> + Send;
    /// Creates the bus named after, and associated with, the partner event source, tagged with
    /// its owner ([`crate::OWNER_TAG`]).
    fn create_partner_event_bus(
        &self,
        source: &str,
        owner: &str,
    ) -> impl Future<Output = Result<String, PortError>> + Send;
    /// The bus's [`crate::OWNER_TAG`], `None` when it has none.
    fn bus_owner(
        &self,
        bus_arn: &str,
    ) -> impl Future<Output = Result<Option<String>, PortError>> + Send;
    /// Sets the bus's [`crate::OWNER_TAG`].
    fn set_bus_owner(
        &self,
        bus_arn: &str,
        owner: &str,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
    fn delete_event_bus(&self, name: &str) -> impl Future<Output = Result<(), PortError>> + Send;
    fn rule(
        &self,
        bus: &str,
        name: &str,
    ) -> impl Future<Output = Result<Option<RuleState>, PortError>> + Send;
    /// Creates or updates the rule, enabled; answers its ARN.
    fn put_rule(
        &self,
        bus: &str,
        rule: &RuleSpec,
    ) -> impl Future<Output = Result<String, PortError>> + Send;
    fn delete_rule(
        &self,
        bus: &str,
        name: &str,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
    fn targets(
        &self,
        bus: &str,
        rule: &str,
    ) -> impl Future<Output = Result<Vec<TargetState>, PortError>> + Send;
    fn put_target(
        &self,
        bus: &str,
        rule: &str,
        target: &TargetSpec,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
    fn remove_targets(
        &self,
        bus: &str,
        rule: &str,
        ids: &[String],
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}
