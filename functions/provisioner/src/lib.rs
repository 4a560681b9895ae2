//! The provisioner Lambda: a CloudFormation custom resource that sets up (and tears down) the
//! Okta log stream, the partner event bus, the rule and its target.
//!
//! - [`custom_resource`]: the protocol: parse the request, run the work under the deadline, and
//!   always answer the `ResponseURL`, on panic and timeout too.
//! - [`provision`]: the work: the Okta API token from SSM, then `provisioning::apply`/`destroy`
//!   with the Okta and EventBridge adapters.

pub mod custom_resource;
pub mod provision;

/// The provisioner's timeout in template.yaml (`tests/tests/template.rs` checks they agree).
pub const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);
