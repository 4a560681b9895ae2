//! OAuth 2.0 client credentials as Okta's org authorization server speaks them, as data:
//!
//! - [`jws`]: the JWS compact form (RFC 7515) with the signature made elsewhere (AWS KMS, a PEM
//!   key, an ephemeral DPoP key), and JWKs with their RFC 7638 thumbprints;
//! - [`claims`]: a `private_key_jwt` client assertion (RFC 7523) and a DPoP proof (RFC 9449);
//! - [`token`]: the token endpoint's answer, when a cached token is due, and its refusals turned
//!   into errors that say what to fix in Okta;
//! - [`challenge`]: what a resource server's `401` with `WWW-Authenticate` asks for next.
//!
//! Nothing here does I/O or holds a key: the `okta-oauth` adapter signs, sends and caches.
//! Why not a JWT crate: every one signs with a key in memory, and the assertion key here lives
//! in AWS KMS (signing is an API call); building the two claim sets and the compact form is a
//! few lines, and the signatures are made by `aws-lc-rs` or KMS.

pub mod challenge;
pub mod claims;
pub mod jws;
pub mod token;

pub use challenge::{Challenge, NextStep, after_refusal};
pub use claims::{ClientAssertionClaims, DpopClaims};
pub use jws::{Algorithm, Header, Jwk, JwkError, SigningInput};
pub use token::{TokenAnswer, TokenKind, TokenRefusal, TokenReply, read_token_reply, reuse_for_ms};

/// Okta's scope for invoking an OAuth-secured API endpoint flow (help.okta.com, "Invoke a flow
/// with an API endpoint using OAuth 2.0").
pub const WORKFLOWS_INVOKE_SCOPE: &str = "okta.workflows.invoke.manage";
/// The Management API scopes the provisioner and the watchdog use (Okta's OpenAPI `security`
/// on `/api/v1/logStreams` and `/api/v1/logs`).
pub const LOG_STREAMS_MANAGE_SCOPE: &str = "okta.logStreams.manage";
pub const LOG_STREAMS_READ_SCOPE: &str = "okta.logStreams.read";
pub const LOGS_READ_SCOPE: &str = "okta.logs.read";
