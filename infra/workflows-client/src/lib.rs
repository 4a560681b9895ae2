//! Delivery to Okta Workflows API endpoints.
//!
//! - [`RetryPolicy`] (from the `retry` crate): when to retry and how long to wait.
//! - [`workflows`]: the HTTP adapter: one keep-alive `reqwest` client per container, client token
//!   in a header, the query or a bearer token, the event uuid as `Idempotency-Key`.
//! - [`auth`]: the credential each route's scheme puts on a request, one module per scheme.
//! - [`tokens`]: where client tokens come from ([`tokens::TokenResolver`]); the SSM resolver
//!   lives in `aws-adapters`.

pub mod auth;
pub mod tokens;
pub mod workflows;

pub use retry::RetryPolicy;
pub use tokens::{EnvTokens, TokenError, TokenResolver};
pub use workflows::WorkflowsClient;
