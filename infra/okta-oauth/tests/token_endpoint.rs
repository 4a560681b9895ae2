#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

//! The token request against hostile or broken token endpoints (wiremock): a redirect is never
//! followed with the assertion, a server that keeps asking for a nonce is a refusal, an endpoint
//! that cannot be reached is temporary, a huge answer is not read whole, and no error carries
//! the assertion.

use oauth::TokenRefusal;
use okta_oauth::{AssertionKey, ClientSettings, OAuthClient, OAuthError, PemKey};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A fresh P-256 key as PKCS#8 PEM.
fn test_key() -> AssertionKey {
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
    use base64::Engine;
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(
        &ECDSA_P256_SHA256_FIXED_SIGNING,
        &aws_lc_rs::rand::SystemRandom::new(),
    )
    .unwrap();
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(pkcs8.as_ref())
    );
    AssertionKey::Pem(PemKey::parse(pem.as_bytes(), "the test key").unwrap())
}

fn client(server: &MockServer, dpop: bool) -> OAuthClient {
    client_at(&url::Url::parse(&server.uri()).unwrap(), dpop)
}

fn client_at(base: &url::Url, dpop: bool) -> OAuthClient {
    OAuthClient::new(
        outbound_http::client(&outbound_http::ClientSettings::default()).unwrap(),
        ClientSettings {
            client_id: "0oa-test".into(),
            token_endpoint: ClientSettings::token_endpoint_of(base),
            scopes: "okta.logs.read".into(),
            dpop,
            key_id: None,
        },
        test_key(),
    )
    .unwrap()
}

async fn refusal(server: &MockServer, dpop: bool) -> OAuthError {
    let url = url::Url::parse(&format!("{}/api/v1/logs", server.uri())).unwrap();
    let Err(error) = client(server, dpop).authorize("GET", &url).await else {
        panic!("a token was issued")
    };
    assert!(
        !error.to_string().contains("eyJ"),
        "an assertion in: {error}"
    );
    error
}

#[tokio::test]
async fn a_redirect_is_refused_and_the_assertion_never_follows_it() {
    let server = MockServer::start().await;
    let elsewhere = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth2/v1/token"))
        .respond_with(
            ResponseTemplate::new(307)
                .insert_header("location", format!("{}/steal", elsewhere.uri()).as_str()),
        )
        .mount(&server)
        .await;
    let error = refusal(&server, false).await;
    assert!(matches!(error, OAuthError::Redirected { .. }), "{error}");
    assert!(!error.is_temporary());
    assert!(elsewhere.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_server_that_keeps_asking_for_a_nonce_is_refused_after_one_round_trip() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth2/v1/token"))
        .respond_with(
            ResponseTemplate::new(400)
                .insert_header("dpop-nonce", "n-again")
                .set_body_json(serde_json::json!({"error": "use_dpop_nonce"})),
        )
        .mount(&server)
        .await;
    let error = refusal(&server, true).await;
    assert!(
        matches!(error, OAuthError::Refused(TokenRefusal::NonceLoop { .. })),
        "{error}"
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn an_unreachable_endpoint_and_a_throttled_one_are_temporary() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth2/v1/token"))
        .respond_with(ResponseTemplate::new(429))
        .mount(&server)
        .await;
    assert!(refusal(&server, false).await.is_temporary());
    // A port nobody listens on (wiremock keeps its servers in a pool, so not a dropped one).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let base = url::Url::parse(&format!("http://127.0.0.1:{port}")).unwrap();
    let client = client_at(&base, false);
    let error = client.authorize("GET", &base).await.err().unwrap();
    assert!(matches!(error, OAuthError::Unreachable { .. }), "{error}");
    assert!(error.is_temporary());
}

#[tokio::test]
async fn a_huge_or_malformed_answer_is_not_a_token() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth2/v1/token"))
        .respond_with(ResponseTemplate::new(200).set_body_string("x".repeat(1024 * 1024)))
        .mount(&server)
        .await;
    let error = refusal(&server, false).await;
    assert!(
        matches!(error, OAuthError::Refused(TokenRefusal::Unreadable { .. })),
        "{error}"
    );
    assert!(error.to_string().len() < 1000, "{error}");
}

#[tokio::test]
async fn each_token_request_carries_a_new_assertion() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth2/v1/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "token_type": "Bearer", "expires_in": 0, "access_token": "t", "scope": "okta.logs.read"
        })))
        .mount(&server)
        .await;
    let client = client(&server, false);
    let url = url::Url::parse(&server.uri()).unwrap();
    client.authorize("GET", &url).await.unwrap();
    client.authorize("GET", &url).await.unwrap();
    let bodies: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|request| String::from_utf8_lossy(&request.body).to_string())
        .collect();
    assert_eq!(bodies.len(), 2, "a token of no lifetime is fetched again");
    assert_ne!(
        bodies[0], bodies[1],
        "the assertion (and its jti) is new each time"
    );
    assert!(bodies[0].contains("grant_type=client_credentials"));
    assert!(bodies[0].contains(
        "client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"
    ));
}
