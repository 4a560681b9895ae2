//! The token endpoint's answers (RFC 6749 §5.1, §5.2; RFC 9449 §8 for `use_dpop_nonce`), read
//! into what the client does next, and how long a token is reused.

use serde::Deserialize;

/// A successful answer. `access_token` is a secret: the adapter wraps it at once.
#[derive(Deserialize)]
pub struct TokenAnswer {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: u64,
    #[serde(default)]
    pub scope: Option<String>,
}

impl std::fmt::Debug for TokenAnswer {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("TokenAnswer")
            .field("access_token", &"[REDACTED]")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish()
    }
}

/// How a token is presented: `Authorization: Bearer …`, or `Authorization: DPoP …` with a proof
/// on every request (RFC 9449 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Bearer,
    Dpop,
}

impl TokenKind {
    pub fn scheme(self) -> &'static str {
        match self {
            Self::Bearer => "Bearer",
            Self::Dpop => "DPoP",
        }
    }
}

/// What one answer from the token endpoint means.
#[derive(Debug)]
pub enum TokenReply {
    Issued(TokenAnswer, TokenKind),
    /// `use_dpop_nonce`: ask again with the nonce from the `DPoP-Nonce` header.
    NonceRequired,
    Refused(TokenRefusal),
}

/// Why no token was issued, and what to fix. Each names the client (never a secret) and quotes
/// Okta's own description, cut short and stripped of control characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenRefusal {
    #[error(
        "Okta refused client {client_id}'s credentials ({detail}): check that the client id is an \
         API service app using \"Public key / Private key\" client authentication, and that the \
         public key okta-relay signs with (`okta-relay auth jwks`) is registered and active on it"
    )]
    InvalidClient { client_id: String, detail: String },
    #[error(
        "Okta did not grant client {client_id} the scopes {scopes} ({detail}): grant them on the \
         app's \"Okta API Scopes\" tab"
    )]
    ScopeNotGranted {
        client_id: String,
        scopes: String,
        detail: String,
    },
    #[error(
        "client {client_id} may not use the client credentials grant ({detail}): use an API \
         service app, which has it"
    )]
    GrantNotAllowed { client_id: String, detail: String },
    #[error(
        "Okta refused client {client_id}'s DPoP proof ({detail}): if the app requires DPoP \
         (\"Require Demonstrating Proof of Possession (DPoP) header in token requests\"), set \
         `dpop` on for this client; if it does not, turn `dpop` off or tick that box"
    )]
    DpopMismatch { client_id: String, detail: String },
    #[error(
        "Okta's token endpoint asked for a DPoP nonce twice in a row for client {client_id}; try again later"
    )]
    NonceLoop { client_id: String },
    #[error(
        "Okta's token endpoint is unavailable for client {client_id} (HTTP {status}); it is retried later"
    )]
    Unavailable { client_id: String, status: u16 },
    #[error("Okta's token endpoint refused client {client_id} (HTTP {status}, {error}: {detail})")]
    Other {
        client_id: String,
        status: u16,
        error: String,
        detail: String,
    },
    #[error(
        "Okta's token endpoint answered client {client_id} with something that is not a token ({reason})"
    )]
    Unreadable { client_id: String, reason: String },
}

impl TokenRefusal {
    /// Whether asking again later may succeed (rate limits, Okta's own outages); every other
    /// refusal needs a change in Okta or in okta-relay's settings.
    pub fn is_temporary(&self) -> bool {
        matches!(self, Self::Unavailable { .. } | Self::NonceLoop { .. })
    }
}

#[derive(Deserialize)]
struct ErrorAnswer {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// Reads one answer of the token endpoint for `client_id`, which asked for `scopes`.
pub fn read_token_reply(status: u16, body: &[u8], client_id: &str, scopes: &str) -> TokenReply {
    let client_id = client_id.to_owned();
    if (200..300).contains(&status) {
        return match serde_json::from_slice::<TokenAnswer>(body) {
            Ok(answer) => match answer.token_type.to_ascii_lowercase().as_str() {
                "bearer" => TokenReply::Issued(answer, TokenKind::Bearer),
                "dpop" => TokenReply::Issued(answer, TokenKind::Dpop),
                other => TokenReply::Refused(TokenRefusal::Unreadable {
                    client_id,
                    reason: format!("token_type `{}`", quote(other)),
                }),
            },
            Err(error) => TokenReply::Refused(TokenRefusal::Unreadable {
                client_id,
                reason: error.to_string(),
            }),
        };
    }
    if status == 429 || status >= 500 {
        return TokenReply::Refused(TokenRefusal::Unavailable { client_id, status });
    }
    let Ok(answer) = serde_json::from_slice::<ErrorAnswer>(body) else {
        return TokenReply::Refused(TokenRefusal::Other {
            client_id,
            status,
            error: "no OAuth error".into(),
            detail: "the answer is not an OAuth error object".into(),
        });
    };
    let detail = quote(
        answer
            .error_description
            .as_deref()
            .unwrap_or("no description"),
    );
    TokenReply::Refused(match answer.error.as_str() {
        "use_dpop_nonce" => return TokenReply::NonceRequired,
        "invalid_client" => TokenRefusal::InvalidClient { client_id, detail },
        "invalid_scope" | "access_denied" => TokenRefusal::ScopeNotGranted {
            client_id,
            scopes: scopes.into(),
            detail,
        },
        "unauthorized_client" | "unsupported_grant_type" => {
            TokenRefusal::GrantNotAllowed { client_id, detail }
        }
        "invalid_dpop_proof" => TokenRefusal::DpopMismatch { client_id, detail },
        error => TokenRefusal::Other {
            client_id,
            status,
            error: quote(error),
            detail,
        },
    })
}

/// How long a token is reused: its lifetime less a tenth of it, at most a minute, so a
/// request never leaves with a token about to expire (an hour's token: 59 minutes).
pub fn reuse_for_ms(expires_in_seconds: u64) -> u64 {
    let lifetime = expires_in_seconds.saturating_mul(1000);
    lifetime.saturating_sub((lifetime / 10).min(60_000))
}

/// Text from a peer, safe to print: control characters dropped, at most 200 characters.
pub fn quote(text: &str) -> String {
    let mut quoted: String = text.chars().filter(|c| !c.is_control()).take(200).collect();
    if text.chars().filter(|c| !c.is_control()).nth(200).is_some() {
        quoted.push('…');
    }
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(status: u16, body: &str) -> TokenRefusal {
        match read_token_reply(status, body.as_bytes(), "0oa1", "okta.logs.read") {
            TokenReply::Refused(refusal) => refusal,
            other => panic!("not a refusal: {other:?}"),
        }
    }

    #[test]
    fn a_token_answer_is_issued_with_its_kind() {
        let body = br#"{"token_type":"DPoP","expires_in":3600,"access_token":"t","scope":"okta.logs.read"}"#;
        let TokenReply::Issued(answer, kind) = read_token_reply(200, body, "c", "s") else {
            panic!("not issued")
        };
        assert_eq!(kind, TokenKind::Dpop);
        assert_eq!(answer.expires_in, 3600);
        assert!(!format!("{answer:?}").contains("\"t\""));
    }

    #[test]
    fn each_refusal_says_what_to_fix() {
        assert_eq!(
            refusal(401, r#"{"error":"invalid_client","error_description":"The client_assertion signature is invalid."}"#).to_string(),
            "Okta refused client 0oa1's credentials (The client_assertion signature is invalid.): \
             check that the client id is an API service app using \"Public key / Private key\" \
             client authentication, and that the public key okta-relay signs with \
             (`okta-relay auth jwks`) is registered and active on it"
        );
        assert_eq!(
            refusal(400, r#"{"error":"invalid_scope","error_description":"The following scopes are not allowed: okta.logs.read"}"#).to_string(),
            "Okta did not grant client 0oa1 the scopes okta.logs.read (The following scopes are \
             not allowed: okta.logs.read): grant them on the app's \"Okta API Scopes\" tab"
        );
        assert!(matches!(
            refusal(400, r#"{"error":"unauthorized_client"}"#),
            TokenRefusal::GrantNotAllowed { .. }
        ));
        assert!(
            refusal(400, r#"{"error":"invalid_dpop_proof","error_description":"The DPoP proof JWT header is missing."}"#)
                .to_string()
                .contains("set `dpop` on for this client")
        );
    }

    #[test]
    fn rate_limits_and_outages_are_temporary_and_refusals_are_not() {
        assert!(refusal(429, "").is_temporary());
        assert!(refusal(503, "<html>").is_temporary());
        assert!(!refusal(401, r#"{"error":"invalid_client"}"#).is_temporary());
        assert!(!refusal(400, "not json").is_temporary());
    }

    #[test]
    fn a_nonce_request_is_not_a_refusal() {
        assert!(matches!(
            read_token_reply(400, br#"{"error":"use_dpop_nonce","error_description":"Authorization server requires nonce in DPoP proof."}"#, "c", "s"),
            TokenReply::NonceRequired
        ));
    }

    #[test]
    fn hostile_descriptions_are_cut_and_cleaned() {
        let long = format!(
            r#"{{"error":"invalid_client","error_description":"a\nb{}"}}"#,
            "x".repeat(5000)
        );
        let TokenRefusal::InvalidClient { detail, .. } = refusal(401, &long) else {
            panic!("not invalid_client")
        };
        assert!(detail.starts_with("abxx"));
        assert_eq!(detail.chars().count(), 201);
    }

    #[test]
    fn a_token_is_reused_until_shortly_before_it_expires() {
        assert_eq!(reuse_for_ms(3600), 3_540_000);
        assert_eq!(reuse_for_ms(2), 1_800);
        assert_eq!(reuse_for_ms(0), 0);
        assert_eq!(reuse_for_ms(u64::MAX), u64::MAX - 60_000);
    }
}
