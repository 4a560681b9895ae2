//! Delivery to Okta Workflows API endpoints.
//!
//! - [`policy`]: when to retry and how long to wait: exponential backoff with full jitter,
//!   `Retry-After`, and a time budget. Pure; tested on a paused clock.
//! - [`workflows`]: the HTTP adapter: one keep-alive `reqwest` client per container, client token
//!   in a header, the query or a bearer token, the event uuid as `Idempotency-Key`.
//! - [`tokens`]: where client tokens come from ([`tokens::TokenResolver`]); the SSM resolver
//!   lives in `aws-adapters`.

pub mod policy;
pub mod tokens;
pub mod workflows;

pub use policy::RetryPolicy;
pub use tokens::{EnvTokens, TokenError, TokenResolver};
pub use workflows::WorkflowsClient;
