//! The two claim sets a client signs.
//!
//! - A client assertion (RFC 7523 §3, Okta's "Build a JWT for client authentication"): `iss` and
//!   `sub` are the client id, `aud` is the token endpoint's full URL, `exp` at most an hour away
//!   (okta-relay uses five minutes), and a `jti` Okta accepts once.
//! - A DPoP proof (RFC 9449 §4.2): `htm` and `htu` (the request's method and URL without query
//!   and fragment), `iat`, a unique `jti`, `ath` (the access token's SHA-256) on a resource
//!   request, and the server's latest `nonce` when it asked for one.
//!
//! Times are Unix seconds the caller reads from its clock; `jti`s are the caller's random ids.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::jws::b64;

/// How long a client assertion is valid: long enough for a slow token request, short enough
/// that a leaked assertion is useless soon (Okta allows up to an hour).
pub const ASSERTION_LIFETIME_SECONDS: u64 = 300;

/// The `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

#[derive(Debug, Clone, Serialize)]
pub struct ClientAssertionClaims<'a> {
    pub iss: &'a str,
    pub sub: &'a str,
    pub aud: &'a str,
    pub iat: u64,
    pub exp: u64,
    pub jti: String,
}

impl<'a> ClientAssertionClaims<'a> {
    pub fn new(client_id: &'a str, token_endpoint: &'a str, now: u64, jti: String) -> Self {
        Self {
            iss: client_id,
            sub: client_id,
            aud: token_endpoint,
            iat: now,
            exp: now.saturating_add(ASSERTION_LIFETIME_SECONDS),
            jti,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct DpopClaims<'a> {
    pub jti: String,
    pub htm: &'a str,
    pub htu: &'a str,
    pub iat: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ath: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<&'a str>,
}

impl<'a> DpopClaims<'a> {
    /// A proof for `method` on `url`; with `access_token` for a resource request (`ath`), with
    /// `nonce` when the server gave one.
    pub fn new(
        method: &'a str,
        url: &'a str,
        now: u64,
        jti: String,
        access_token: Option<&str>,
        nonce: Option<&'a str>,
    ) -> Self {
        Self {
            jti,
            htm: method,
            htu: htu(url),
            iat: now,
            ath: access_token.map(access_token_hash),
            nonce,
        }
    }
}

/// A URL as `htu` names it: without its query and fragment (RFC 9449 §4.2).
pub fn htu(url: &str) -> &str {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    &url[..end]
}

/// `ath`: base64url of the access token's SHA-256 (RFC 9449 §4.2).
pub fn access_token_hash(access_token: &str) -> String {
    b64(&Sha256::digest(access_token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_assertion_names_the_client_twice_and_the_token_endpoint_as_audience() {
        let claims = ClientAssertionClaims::new(
            "0oa1",
            "https://example.okta.com/oauth2/v1/token",
            1_700_000_000,
            "j1".into(),
        );
        assert_eq!(
            serde_json::to_value(&claims).unwrap(),
            serde_json::json!({
                "iss": "0oa1", "sub": "0oa1",
                "aud": "https://example.okta.com/oauth2/v1/token",
                "iat": 1_700_000_000u64, "exp": 1_700_000_300u64, "jti": "j1"
            })
        );
    }

    #[test]
    fn an_assertion_at_the_end_of_time_does_not_overflow() {
        let claims = ClientAssertionClaims::new("c", "a", u64::MAX, "j".into());
        assert_eq!(claims.exp, u64::MAX);
    }

    #[test]
    fn a_resource_proof_carries_the_token_hash_and_drops_the_query() {
        let claims = DpopClaims::new(
            "POST",
            "https://example.workflows.okta.com/api/flo/abc/invoke?clientToken=x#f",
            7,
            "j".into(),
            Some("token"),
            Some("n1"),
        );
        let value = serde_json::to_value(&claims).unwrap();
        assert_eq!(
            value["htu"],
            "https://example.workflows.okta.com/api/flo/abc/invoke"
        );
        // RFC 9449 §7.1's example: the hash of the example token.
        assert_eq!(
            access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
            "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
        );
        assert_eq!(value["nonce"], "n1");
        assert!(value.get("ath").is_some());
    }

    #[test]
    fn a_token_request_proof_has_no_token_hash_or_nonce_until_asked() {
        let claims = DpopClaims::new(
            "POST",
            "https://o/oauth2/v1/token",
            7,
            "j".into(),
            None,
            None,
        );
        let value = serde_json::to_value(&claims).unwrap();
        assert!(value.get("ath").is_none());
        assert!(value.get("nonce").is_none());
    }
}
