//! The Okta side of okta-relay, as data: the System Log `LogEvent` fields the relay reads, the
//! EventBridge partner event source name Okta streams into, and the org URL with the admin
//! console links derived from it.
//!
//! Nothing here does I/O; the Okta Management API client lives beside this model when the
//! provisioner needs it.

mod log_event;
mod org;
mod partner_source;

pub use log_event::{
    Actor, Client, GeographicalContext, LogEvent, LogEventError, Outcome, SecurityContext, Target,
    UserAgent,
};
pub use org::{OrgUrl, OrgUrlError};
pub use partner_source::PartnerEventSource;
