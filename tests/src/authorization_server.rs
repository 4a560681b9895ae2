//! Okta's org authorization server for service apps, held to the specs it implements, shared by
//! the fake Okta (its `/oauth2/v1/token` and the Management API's token checks) and the fake
//! Workflows endpoint (OAuth-secured flows):
//!
//! - **Client credentials with `private_key_jwt`** (RFC 6749 §4.4, RFC 7523 §3, Okta's "Build a JWT
//!   for client authentication"): the assertion's signature against the JWKs registered for the
//!   client (RS256, ES256), `iss` = `sub` = the client id, `aud` = the token endpoint's URL,
//!   `exp` in the future and at most an hour away, a `jti` never seen before. Refusals are
//!   Okta's OAuth errors: `invalid_client`, `invalid_scope` (a scope not granted to the app),
//!   `unsupported_grant_type`.
//! - **DPoP** (RFC 9449; Okta's "Configure OAuth 2.0 Demonstrating Proof-of-Possession"): a client
//!   registered with "Require DPoP" gets `invalid_dpop_proof` without a proof, and
//!   `use_dpop_nonce` with a `DPoP-Nonce` until its proof carries a nonce this server issued
//!   (§8). A proof is checked for `typ` `dpop+jwt`, a public `jwk` its signature verifies with,
//!   `htm`/`htu` of the request, `iat` within 60 s, and a `jti` not replayed. A proof from a
//!   client that does not require DPoP is refused too: okta-relay's `dpop` setting must match the
//!   app (assumed stricter than Okta, which documents only the required case).
//! - **Tokens** are opaque, live a configurable time (Okta: one hour; tests: seconds), and carry
//!   their scopes and, when DPoP-bound, the key's thumbprint. A resource server checks them
//!   ([`AuthorizationServer::check`]) as RFC 6750 §3 and RFC 9449 §7 say: `401` with
//!   `WWW-Authenticate: Bearer error="invalid_token"` for an unknown or expired token,
//!   `DPoP error="use_dpop_nonce"` for a missing nonce, `403 insufficient_scope` for a scope the
//!   token lacks.
//!
//! Everything it receives is counted per client: token requests, tokens issued, refusals.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents, UnparsedPublicKey,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// How far a DPoP proof's `iat` may be from now (Okta does not document its window; RFC 9449
/// §11.1 leaves it to the server).
const PROOF_WINDOW_SECONDS: i64 = 60;
/// How long an issued nonce is accepted.
const NONCE_LIFETIME_SECONDS: i64 = 300;

/// An API service app as registered in Okta.
#[derive(Debug, Clone)]
pub struct ServiceApp {
    /// Public keys ("Public key / Private key" client authentication), as JWKs.
    pub jwks: Vec<Value>,
    /// Scopes granted on the app's "Okta API Scopes" tab.
    pub granted_scopes: Vec<String>,
    /// "Require Demonstrating Proof of Possession (DPoP) header in token requests".
    pub require_dpop: bool,
    /// The admin role assigned to the app (`SUPER_ADMIN`, `READ_ONLY_ADMIN`), if any: the
    /// Management API checks it beside the scopes.
    pub admin_role: Option<String>,
}

/// What a token grants, as a resource server learns it.
#[derive(Debug, Clone)]
pub struct Grant {
    pub client_id: String,
    pub scopes: Vec<String>,
    pub admin_role: Option<String>,
}

/// A resource server's refusal: status, `WWW-Authenticate`, and a nonce to send.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub status: u16,
    pub challenge: String,
    pub nonce: Option<String>,
}

/// Counts per client.
#[derive(Debug, Clone, Default)]
pub struct ClientCounts {
    pub token_requests: u32,
    pub issued: u32,
    pub refused: Vec<String>,
}

struct Issued {
    client_id: String,
    scopes: Vec<String>,
    /// Unix milliseconds: a token lives exactly its `expires_in` from issue (tests use lifetimes
    /// of seconds, where whole-second rounding would be half the lifetime).
    expires_at_ms: i64,
    /// The DPoP key's thumbprint (`cnf.jkt`) for a bound token.
    jkt: Option<String>,
}

#[derive(Default)]
struct State {
    apps: HashMap<String, ServiceApp>,
    tokens: HashMap<String, Issued>,
    seen_assertion_jtis: HashSet<String>,
    seen_proof_jtis: HashSet<String>,
    nonces: HashMap<String, i64>,
    counts: HashMap<String, ClientCounts>,
    token_lifetime_seconds: u64,
    next: u64,
    /// Resource requests seen with each `Authorization` scheme (`SSWS`, `Bearer`, `DPoP`).
    schemes: HashMap<String, u32>,
}

/// The authorization server; clone it to share (one state).
#[derive(Clone)]
pub struct AuthorizationServer {
    state: Arc<Mutex<State>>,
}

impl Default for AuthorizationServer {
    fn default() -> Self {
        Self::new()
    }
}

impl AuthorizationServer {
    pub fn new() -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                token_lifetime_seconds: 3600,
                ..State::default()
            })),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn register(&self, client_id: &str, app: ServiceApp) {
        self.state().apps.insert(client_id.into(), app);
    }

    pub fn set_token_lifetime(&self, seconds: u64) {
        self.state().token_lifetime_seconds = seconds;
    }

    pub fn counts(&self, client_id: &str) -> ClientCounts {
        self.state()
            .counts
            .get(client_id)
            .cloned()
            .unwrap_or_default()
    }

    /// Resource requests seen with `scheme` in `Authorization` (`SSWS`, `Bearer`, `DPoP`).
    pub fn requests_with_scheme(&self, scheme: &str) -> u32 {
        self.state().schemes.get(scheme).copied().unwrap_or(0)
    }

    /// Counts a resource request's `Authorization` scheme.
    pub fn saw(&self, authorization: Option<&str>) {
        let scheme = authorization
            .and_then(|value| value.split(' ').next())
            .unwrap_or("none")
            .to_owned();
        *self.state().schemes.entry(scheme).or_default() += 1;
    }

    /// `POST /oauth2/v1/token`: `endpoint` is the URL it was called at (the assertion's `aud`
    /// and the proof's `htu` must name it). Answers status, JSON body and a nonce header.
    pub fn token(
        &self,
        endpoint: &str,
        form: &[u8],
        dpop: Option<&str>,
    ) -> (u16, Value, Option<String>) {
        let form: HashMap<String, String> =
            url::form_urlencoded::parse(form).into_owned().collect();
        let mut state = self.state();
        let now = now();
        let refuse = |state: &mut State, client: &str, status: u16, error: &str, detail: &str| {
            state
                .counts
                .entry(client.into())
                .or_default()
                .refused
                .push(error.into());
            (
                status,
                json!({"error": error, "error_description": detail}),
                None,
            )
        };
        let assertion = form.get("client_assertion").cloned().unwrap_or_default();
        let claimed_client = jwt_claims(&assertion)
            .and_then(|claims| claims.get("iss").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_default();
        state
            .counts
            .entry(claimed_client.clone())
            .or_default()
            .token_requests += 1;
        if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
            return refuse(
                &mut state,
                &claimed_client,
                400,
                "unsupported_grant_type",
                "The authorization grant type is not supported by the authorization server.",
            );
        }
        if form.get("client_assertion_type").map(String::as_str) != Some(ASSERTION_TYPE) {
            return refuse(
                &mut state,
                &claimed_client,
                401,
                "invalid_client",
                "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer.",
            );
        }
        let Some(app) = state.apps.get(&claimed_client).cloned() else {
            return refuse(
                &mut state,
                &claimed_client,
                401,
                "invalid_client",
                "Invalid value for 'client_id' parameter.",
            );
        };
        if let Err(detail) = verify_assertion(&assertion, &claimed_client, endpoint, &app, now) {
            return refuse(&mut state, &claimed_client, 401, "invalid_client", &detail);
        }
        let jti = jwt_claims(&assertion)
            .and_then(|claims| claims.get("jti").and_then(Value::as_str).map(str::to_owned));
        let fresh = jti.is_some_and(|jti| state.seen_assertion_jtis.insert(jti));
        match fresh {
            true => {}
            false => {
                return refuse(
                    &mut state,
                    &claimed_client,
                    401,
                    "invalid_client",
                    "The client_assertion token has already been used (its jti is not unique).",
                );
            }
        }
        let requested: Vec<String> = form
            .get("scope")
            .map(|scopes| {
                scopes
                    .split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let missing: Vec<&str> = requested
            .iter()
            .filter(|scope| !app.granted_scopes.contains(scope))
            .map(String::as_str)
            .collect();
        if requested.is_empty() || !missing.is_empty() {
            let detail = format!(
                "The following scopes are not allowed: {}",
                missing.join(" ")
            );
            return refuse(&mut state, &claimed_client, 400, "invalid_scope", &detail);
        }
        let jkt = match (dpop, app.require_dpop) {
            (None, true) => {
                return refuse(
                    &mut state,
                    &claimed_client,
                    400,
                    "invalid_dpop_proof",
                    "The DPoP proof JWT header is missing.",
                );
            }
            (Some(_), false) => {
                return refuse(
                    &mut state,
                    &claimed_client,
                    400,
                    "invalid_dpop_proof",
                    "DPoP proof JWT header is not allowed for this client.",
                );
            }
            (None, false) => None,
            (Some(proof), true) => {
                match verify_proof(&mut state, proof, "POST", endpoint, None, now) {
                    Ok(jkt) => Some(jkt),
                    Err(ProofProblem::Nonce) => {
                        let nonce = issue_nonce(&mut state, now);
                        let (status, body, _) = refuse(
                            &mut state,
                            &claimed_client,
                            400,
                            "use_dpop_nonce",
                            "Authorization server requires nonce in DPoP proof.",
                        );
                        return (status, body, Some(nonce));
                    }
                    Err(ProofProblem::Invalid(detail)) => {
                        return refuse(
                            &mut state,
                            &claimed_client,
                            400,
                            "invalid_dpop_proof",
                            &detail,
                        );
                    }
                }
            }
        };
        state.next += 1;
        let token = format!("oat.{}.{}", state.next, random_hex());
        let lifetime = state.token_lifetime_seconds;
        let kind = if jkt.is_some() { "DPoP" } else { "Bearer" };
        state.tokens.insert(
            token.clone(),
            Issued {
                client_id: claimed_client.clone(),
                scopes: requested.clone(),
                expires_at_ms: now_ms().saturating_add(
                    i64::try_from(lifetime.saturating_mul(1000)).unwrap_or(i64::MAX),
                ),
                jkt,
            },
        );
        state.counts.entry(claimed_client).or_default().issued += 1;
        (
            200,
            json!({"token_type": kind, "expires_in": lifetime, "access_token": token,
                   "scope": requested.join(" ")}),
            None,
        )
    }

    /// A resource server's check of `authorization` (and `dpop`) on `method` `url`, needing
    /// `scope`; `require_nonce` as a resource server that asks for DPoP nonces.
    pub fn check(
        &self,
        method: &str,
        url: &str,
        authorization: Option<&str>,
        dpop: Option<&str>,
        scope: &str,
        require_nonce: bool,
    ) -> Result<Grant, Refusal> {
        let mut state = self.state();
        let now = now();
        let invalid = |scheme: &str, error: &str| Refusal {
            status: 401,
            challenge: format!(
                r#"{scheme} error="{error}", error_description="The access token is invalid.""#
            ),
            nonce: None,
        };
        let (scheme, token) = authorization
            .and_then(|value| value.split_once(' '))
            .ok_or_else(|| invalid("Bearer", "invalid_token"))?;
        let Some(issued) = state.tokens.get(token) else {
            return Err(invalid("Bearer", "invalid_token"));
        };
        if issued.expires_at_ms <= now_ms() {
            return Err(invalid(scheme, "invalid_token"));
        }
        let (client_id, scopes, jkt) = (
            issued.client_id.clone(),
            issued.scopes.clone(),
            issued.jkt.clone(),
        );
        match (&jkt, scheme) {
            (Some(jkt), "DPoP") => {
                let Some(proof) = dpop else {
                    return Err(invalid("DPoP", "invalid_dpop_proof"));
                };
                let nonce_required = require_nonce;
                match verify_proof(&mut state, proof, method, url, Some(token), now) {
                    Ok(thumbprint) if &thumbprint == jkt => {}
                    Ok(_) => return Err(invalid("DPoP", "invalid_dpop_proof")),
                    Err(ProofProblem::Nonce) if nonce_required => {
                        let nonce = issue_nonce(&mut state, now);
                        return Err(Refusal {
                            status: 401,
                            challenge: r#"DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof""#.into(),
                            nonce: Some(nonce),
                        });
                    }
                    Err(ProofProblem::Nonce) => {}
                    Err(ProofProblem::Invalid(_)) => {
                        return Err(invalid("DPoP", "invalid_dpop_proof"));
                    }
                }
            }
            (Some(_), _) => return Err(invalid("DPoP", "invalid_token")),
            (None, "Bearer") => {}
            (None, _) => return Err(invalid("Bearer", "invalid_token")),
        }
        if !scopes.iter().any(|granted| granted == scope) {
            return Err(Refusal {
                status: 403,
                challenge: format!(
                    r#"Bearer error="insufficient_scope", error_description="The access token provided does not contain the required scopes.", scope="{scope}""#
                ),
                nonce: None,
            });
        }
        let admin_role = state
            .apps
            .get(&client_id)
            .and_then(|app| app.admin_role.clone());
        Ok(Grant {
            client_id,
            scopes,
            admin_role,
        })
    }
}

enum ProofProblem {
    /// Valid but without a current nonce.
    Nonce,
    Invalid(String),
}

fn issue_nonce(state: &mut State, now: i64) -> String {
    state.next += 1;
    let nonce = format!("n{}{}", state.next, random_hex());
    state
        .nonces
        .retain(|_, issued| now - *issued < NONCE_LIFETIME_SECONDS);
    state.nonces.insert(nonce.clone(), now);
    nonce
}

/// Verifies a DPoP proof for `method` `url` (and `token`'s hash); answers its key's thumbprint.
fn verify_proof(
    state: &mut State,
    proof: &str,
    method: &str,
    url: &str,
    token: Option<&str>,
    now: i64,
) -> Result<String, ProofProblem> {
    let bad = |detail: &str| ProofProblem::Invalid(detail.into());
    let (header, claims, input, signature) = split_jwt(proof).ok_or_else(|| bad("not a JWT"))?;
    if header.get("typ").and_then(Value::as_str) != Some("dpop+jwt") {
        return Err(bad("typ is not dpop+jwt"));
    }
    let jwk = header
        .get("jwk")
        .ok_or_else(|| bad("no jwk in the header"))?;
    if jwk.get("d").is_some() {
        return Err(bad("the jwk holds a private key"));
    }
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .unwrap_or_default();
    verify_signature(alg, jwk, input.as_bytes(), &signature).map_err(|detail| bad(&detail))?;
    if claims.get("htm").and_then(Value::as_str) != Some(method) {
        return Err(bad("htm does not match the request"));
    }
    let target = url.split(['?', '#']).next().unwrap_or(url);
    if claims.get("htu").and_then(Value::as_str) != Some(target) {
        return Err(bad("htu does not match the request"));
    }
    let iat = claims
        .get("iat")
        .and_then(Value::as_i64)
        .ok_or_else(|| bad("no iat"))?;
    if (now - iat).abs() > PROOF_WINDOW_SECONDS {
        return Err(bad("iat is outside the accepted window"));
    }
    if let Some(token) = token {
        let expected = URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()));
        if claims.get("ath").and_then(Value::as_str) != Some(expected.as_str()) {
            return Err(bad("ath does not match the access token"));
        }
    }
    let jti = claims
        .get("jti")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("no jti"))?;
    let nonce_ok = claims
        .get("nonce")
        .and_then(Value::as_str)
        .and_then(|nonce| state.nonces.get(nonce))
        .is_some_and(|issued| now - issued < NONCE_LIFETIME_SECONDS);
    if !nonce_ok {
        return Err(ProofProblem::Nonce);
    }
    if !state.seen_proof_jtis.insert(jti.to_owned()) {
        return Err(bad("the proof's jti was used before"));
    }
    Ok(thumbprint(jwk))
}

fn verify_assertion(
    assertion: &str,
    client_id: &str,
    endpoint: &str,
    app: &ServiceApp,
    now: i64,
) -> Result<(), String> {
    let (header, claims, input, signature) =
        split_jwt(assertion).ok_or("The client_assertion is not a JWT.")?;
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let kid = header.get("kid").and_then(Value::as_str);
    let verified = app
        .jwks
        .iter()
        .filter(|jwk| kid.is_none() || jwk.get("kid").and_then(Value::as_str) == kid)
        .any(|jwk| verify_signature(alg, jwk, input.as_bytes(), &signature).is_ok());
    if !verified {
        return Err("The client_assertion signature is invalid.".into());
    }
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    if text("sub") != Some(client_id) {
        return Err("The client_assertion token's sub must be the client id.".into());
    }
    if text("aud") != Some(endpoint) {
        return Err(
            "The audience claim for client_assertion must be the endpoint invoked for the JWT."
                .into(),
        );
    }
    let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
    if exp <= now {
        return Err("The client_assertion token is expired.".into());
    }
    if exp > now + 3600 {
        return Err("The client_assertion token has an expiration too far into the future.".into());
    }
    Ok(())
}

fn split_jwt(jwt: &str) -> Option<(Value, Value, String, Vec<u8>)> {
    let mut parts = jwt.split('.');
    let (header, claims, signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let decode = |part: &str| -> Option<Value> {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()
    };
    Some((
        decode(header)?,
        decode(claims)?,
        format!("{header}.{claims}"),
        URL_SAFE_NO_PAD.decode(signature).ok()?,
    ))
}

fn jwt_claims(jwt: &str) -> Option<Value> {
    split_jwt(jwt).map(|(_, claims, _, _)| claims)
}

fn verify_signature(alg: &str, jwk: &Value, input: &[u8], signature: &[u8]) -> Result<(), String> {
    let member = |name: &str| -> Result<Vec<u8>, String> {
        let text = jwk
            .get(name)
            .and_then(Value::as_str)
            .ok_or(format!("the jwk has no {name}"))?;
        URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| format!("the jwk's {name} is not base64url"))
    };
    match (alg, jwk.get("kty").and_then(Value::as_str)) {
        ("RS256", Some("RSA")) => RsaPublicKeyComponents {
            n: member("n")?,
            e: member("e")?,
        }
        .verify(&RSA_PKCS1_2048_8192_SHA256, input, signature)
        .map_err(|_| "bad signature".to_string()),
        ("ES256", Some("EC")) => {
            let mut point = vec![0x04];
            point.extend(member("x")?);
            point.extend(member("y")?);
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
                .verify(input, signature)
                .map_err(|_| "bad signature".to_string())
        }
        _ => Err(format!("alg {alg} does not fit the key")),
    }
}

/// RFC 7638.
pub fn thumbprint(jwk: &Value) -> String {
    let text = |name: &str| jwk.get(name).and_then(Value::as_str).unwrap_or_default();
    let canonical = match text("kty") {
        "RSA" => json!({"e": text("e"), "kty": "RSA", "n": text("n")}),
        _ => json!({"crv": text("crv"), "kty": "EC", "x": text("x"), "y": text("y")}),
    };
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.to_string().as_bytes()))
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
        })
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
        })
}

fn random_hex() -> String {
    let mut bytes = [0u8; 12];
    let _ = aws_lc_rs::rand::fill(&mut bytes);
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// How long tests wait for a token to expire: its lifetime and a little more.
pub fn past(lifetime_seconds: u64) -> Duration {
    Duration::from_millis(lifetime_seconds * 1000 + 300)
}

/// A fresh RSA 2048 private key as PKCS#8 PEM, as Okta's console generates one.
pub fn rsa_pem() -> Result<String, String> {
    use aws_lc_rs::encoding::AsDer;
    let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
        .map_err(|_| "RSA key generation failed")?;
    let der = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair)
        .map_err(|_| "PKCS#8 encoding failed")?;
    Ok(pem("PRIVATE KEY", der.as_ref()))
}

/// A fresh P-256 private key as PKCS#8 PEM.
pub fn p256_pem() -> Result<String, String> {
    let document = aws_lc_rs::signature::EcdsaKeyPair::generate_pkcs8(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &aws_lc_rs::rand::SystemRandom::new(),
    )
    .map_err(|_| "P-256 key generation failed")?;
    Ok(pem("PRIVATE KEY", document.as_ref()))
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .filter_map(|chunk| std::str::from_utf8(chunk).ok())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}
