//! A resource server's `401` and its `WWW-Authenticate` challenge (RFC 6750 §3, RFC 9449 §7.1,
//! §9): what the client does next. One retry at most: a nonce to use, or a fresh token when the
//! server says the token is no longer good (revoked early, or expired by a clock ahead of ours).

/// The parts of a challenge the client acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub scheme: String,
    pub error: Option<String>,
}

impl Challenge {
    /// Reads `Bearer error="invalid_token", error_description="…"` and its DPoP form. Only the
    /// first challenge's scheme and its `error` parameter are read.
    pub fn parse(header: &str) -> Self {
        let header = header.trim();
        let (scheme, parameters) = header.split_once(' ').unwrap_or((header, ""));
        let error = parameters.split(',').find_map(|parameter| {
            let (name, value) = parameter.split_once('=')?;
            (name.trim().eq_ignore_ascii_case("error"))
                .then(|| value.trim().trim_matches('"').to_owned())
        });
        Self {
            scheme: scheme.to_owned(),
            error,
        }
    }
}

/// What to do after a `401`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextStep {
    /// `use_dpop_nonce` with a `DPoP-Nonce` header: the same token, a proof with the nonce.
    RetryWithNonce(String),
    /// `invalid_token` (or a 401 that does not say): drop the cached token, fetch another.
    RetryWithNewToken,
    /// `insufficient_scope` or anything else: a new token would be refused alike.
    GiveUp(String),
}

/// Decides after a `401` (or a `403` with a challenge) on a request that carried a token.
pub fn after_refusal(challenge: Option<&Challenge>, nonce: Option<&str>) -> NextStep {
    let error = challenge.and_then(|challenge| challenge.error.as_deref());
    match (error, nonce) {
        (Some("use_dpop_nonce"), Some(nonce)) => NextStep::RetryWithNonce(nonce.to_owned()),
        (Some("use_dpop_nonce"), None) => NextStep::GiveUp(
            "the server asked for a DPoP nonce without sending one (no DPoP-Nonce header)".into(),
        ),
        (Some("insufficient_scope"), _) => NextStep::GiveUp(
            "the token lacks a scope this request needs: grant it on the app's \"Okta API \
             Scopes\" tab"
                .into(),
        ),
        (Some("invalid_token") | None, _) => NextStep::RetryWithNewToken,
        (Some(other), _) => NextStep::GiveUp(format!(
            "the server refused the token ({})",
            crate::token::quote(other)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_challenge_names_its_scheme_and_error() {
        assert_eq!(
            Challenge::parse(
                r#"DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof""#
            ),
            Challenge {
                scheme: "DPoP".into(),
                error: Some("use_dpop_nonce".into())
            }
        );
        assert_eq!(Challenge::parse("Bearer").error, None);
        assert_eq!(
            Challenge::parse(r#"Bearer realm="x", error="invalid_token""#)
                .error
                .as_deref(),
            Some("invalid_token")
        );
    }

    #[test]
    fn the_next_step_after_a_refusal() {
        let challenge = |text| Challenge::parse(text);
        assert_eq!(
            after_refusal(
                Some(&challenge(r#"DPoP error="use_dpop_nonce""#)),
                Some("n2")
            ),
            NextStep::RetryWithNonce("n2".into())
        );
        assert_eq!(
            after_refusal(Some(&challenge(r#"Bearer error="invalid_token""#)), None),
            NextStep::RetryWithNewToken
        );
        assert_eq!(after_refusal(None, None), NextStep::RetryWithNewToken);
        assert!(matches!(
            after_refusal(Some(&challenge(r#"Bearer error="insufficient_scope""#)), None),
            NextStep::GiveUp(reason) if reason.contains("Okta API Scopes")
        ));
        assert!(matches!(
            after_refusal(Some(&challenge(r#"DPoP error="use_dpop_nonce""#)), None),
            NextStep::GiveUp(_)
        ));
    }
}
