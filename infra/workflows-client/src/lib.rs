//! The Okta Workflows API endpoint client, the adapter behind `relay_core::Deliver`.
//!
//! - [`workflows`]: [`WorkflowsClient`]: one keep-alive `reqwest` client per container (the
//!   `outbound-http` policy: no redirects), the event uuid as `Idempotency-Key`, each attempt
//!   under the [`RetryPolicy`], and the HTTP answer turned into a domain `Outcome` (HTTP stays
//!   here); errors are built without the URL, which may hold a token.
//! - [`auth`]: the credential each route's scheme puts on a request, one module per scheme.

pub mod auth;
pub mod workflows;

pub use relay_core::tokens::{EnvTokens, TokenError, TokenResolver};
pub use retry::RetryPolicy;
pub use workflows::WorkflowsClient;
