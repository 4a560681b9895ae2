//! The provisioner's logic: from a validated [`Spec`] and what exists now ([`observe`]) to the
//! ordered [`Change`]s that converge the Okta log stream, the partner event bus, the rule and its
//! target ([`plan_apply`], [`plan_destroy`]), and executing them ([`apply`], [`destroy`]).
//!
//! Okta and EventBridge are ports ([`LogStreams`], [`EventBuses`]); the adapters live in
//! `okta-api` and `aws-adapters`. Every step is idempotent: repeating `apply` or `destroy` after a
//! failure, or after success, converges.

mod error;
mod execute;
mod observe;
mod ownership;
mod plan;
mod ports;
mod spec;
mod watch;

pub use error::ProvisionError;
pub use execute::{Provisioned, Repair, Unrouted, apply, destroy, repair_path, retire_rule};
pub use observe::{
    DeliveryPath, ExpectedRule, Observed, Status, find_by_settings, observe, observe_path, status,
};
pub use ownership::{Holding, OWNER_TAG, Owner, describe_owner, holding};
pub use plan::{Change, MAX_LOG_STREAMS, REPLACED_SUFFIX, plan_apply, plan_destroy, plan_path};
pub use ports::{EventBuses, LogStreams, PortError, RuleState, StreamHistory, TargetState};
pub use spec::{
    DEFAULT_MAXIMUM_EVENT_AGE_SECONDS, DEFAULT_MAXIMUM_RETRY_ATTEMPTS, DEFAULT_PARTNER_SOURCE_WAIT,
    DEFAULT_RULE_DESCRIPTION, DEFAULT_TARGET_ID, RuleSpec, Spec, SpecError, SpecInput, TargetSpec,
};
pub use watch::{Repairs, StreamHealth, Watch, watch};
