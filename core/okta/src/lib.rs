//! The Okta side of okta-relay, as data: the System Log `LogEvent` fields the relay reads, log
//! streams and the rules on their settings, the EventBridge partner event source name Okta
//! streams into, and the org URL with the admin console links derived from it.
//!
//! Nothing here does I/O; the Okta Management API client is the `okta-api` crate.

mod lifecycle;
mod log_event;
mod log_stream;
mod org;
mod partner_source;

pub use lifecycle::{ACTIVATE_EVENT, DEACTIVATE_EVENT, Deactivation, SYSTEM_PRINCIPAL, Who};
pub use log_event::{
    Actor, Client, GeographicalContext, LogEvent, LogEventError, Outcome, SecurityContext, Target,
    UserAgent,
};
pub use log_stream::{
    AWS_EVENTBRIDGE, AwsSettings, LogStream, LogStreamRequest, LogStreamStatus, OKTA_REGIONS,
    SettingsError, is_event_source_name,
};
pub use org::{OrgUrl, OrgUrlError};
pub use partner_source::PartnerEventSource;
