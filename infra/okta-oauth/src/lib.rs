//! The OAuth 2.0 client okta-relay uses for Okta: Workflows' OAuth-secured API endpoint flows
//! (`okta.workflows.invoke.manage`) and the Management API (Log Streams, System Log) alike.
//!
//! - [`keys`]: the assertion key, in AWS KMS (`kms:Sign`, non-exportable) or a PEM private key;
//!   the ephemeral per-container DPoP key.
//! - [`client`]: [`OAuthClient`], the token request, its cache and DPoP.
//!
//! The protocol as data (claims, refusals, challenges) is the pure `oauth` crate.

pub mod client;
pub mod keys;

pub use client::{
    Authorization, ClientSettings, DPOP, DPOP_NONCE, OAuthClient, OAuthError, sensitive,
};
pub use keys::{AssertionKey, DpopKey, KeyError, KmsKey, PemKey};
pub use oauth::{Jwk, NextStep};
