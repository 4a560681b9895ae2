#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test
//! The OAuth 2.0 client (`okta-oauth`) and the Management API client (`okta-api`) against the
//! fake Okta's org authorization server (`tests/src/authorization_server.rs`): tokens by
//! `private_key_jwt` with a PEM key and with a KMS key (moto), their cache and refresh, DPoP with
//! nonces at the token endpoint and the API, and each refusal with the fix it names.

use std::sync::Arc;

use okta_api::{MANAGEMENT_SCOPES, OktaClient, OktaCredentials, OktaError};
use okta_oauth::{AssertionKey, ClientSettings, KmsKey, OAuthClient, PemKey};
use okta_relay_e2e::authorization_server::{
    AuthorizationServer, ServiceApp, p256_pem, past, rsa_pem,
};
use okta_relay_e2e::fake_okta::FakeOkta;
use okta_relay_e2e::moto::MotoServer;
use url::Url;

const CLIENT: &str = "0oa-relay-service";

fn management_app(jwk: serde_json::Value, require_dpop: bool) -> ServiceApp {
    ServiceApp {
        jwks: vec![jwk],
        granted_scopes: MANAGEMENT_SCOPES.split(' ').map(str::to_owned).collect(),
        require_dpop,
        admin_role: Some("SUPER_ADMIN".into()),
    }
}

fn settings(okta: &FakeOkta, client_id: &str, dpop: bool) -> ClientSettings {
    let base = Url::parse(&okta.base_url()).unwrap();
    ClientSettings {
        client_id: client_id.into(),
        token_endpoint: ClientSettings::token_endpoint_of(&base),
        scopes: MANAGEMENT_SCOPES.into(),
        dpop,
        key_id: None,
    }
}

async fn pem_client(okta: &FakeOkta, pem: &str, client_id: &str, dpop: bool) -> Arc<OAuthClient> {
    let key = AssertionKey::Pem(PemKey::parse(pem.as_bytes(), "the test's PEM").unwrap());
    Arc::new(
        OAuthClient::new(
            okta_api::http_client().unwrap(),
            settings(okta, client_id, dpop),
            key,
        )
        .unwrap(),
    )
}

async fn jwk_of(pem: &str) -> serde_json::Value {
    let key = AssertionKey::Pem(PemKey::parse(pem.as_bytes(), "pem").unwrap());
    serde_json::to_value(key.public_jwk().await.unwrap()).unwrap()
}

fn okta_client(okta: &FakeOkta, client: Arc<OAuthClient>) -> OktaClient {
    OktaClient::with_base_url(
        Url::parse(&okta.base_url()).unwrap(),
        OktaCredentials::OAuth(client),
    )
    .unwrap()
}

#[tokio::test]
async fn a_token_is_reused_until_shortly_before_it_expires_and_no_api_token_is_sent() {
    let okta = FakeOkta::start("unused-ssws", None).await.unwrap();
    let server: AuthorizationServer = okta.authorization_server();
    let pem = rsa_pem().unwrap();
    server.register(CLIENT, management_app(jwk_of(&pem).await, false));
    server.set_token_lifetime(2);
    let client = pem_client(&okta, &pem, CLIENT, false).await;
    let api = okta_client(&okta, client.clone());
    for _ in 0..5 {
        api.list_log_streams().await.unwrap();
    }
    assert_eq!(
        client.token_requests(),
        1,
        "one token for calls within its lifetime"
    );
    tokio::time::sleep(past(2)).await;
    api.list_log_streams().await.unwrap();
    assert_eq!(
        client.token_requests(),
        2,
        "a new token once the first expired"
    );
    assert_eq!(server.counts(CLIENT).issued, 2);
    assert_eq!(server.requests_with_scheme("SSWS"), 0);
    assert_eq!(server.requests_with_scheme("Bearer"), 6);
    assert!(okta.violations().is_empty(), "{:?}", okta.violations());
}

#[tokio::test]
async fn dpop_answers_the_nonce_of_the_token_endpoint_and_of_the_api() {
    let okta = FakeOkta::start("unused-ssws", None).await.unwrap();
    let server = okta.authorization_server();
    let pem = p256_pem().unwrap();
    server.register(CLIENT, management_app(jwk_of(&pem).await, true));
    let client = pem_client(&okta, &pem, CLIENT, true).await;
    let api = okta_client(&okta, client.clone());
    api.list_log_streams().await.unwrap();
    api.list_log_streams().await.unwrap();
    // One refused for its nonce, one issued.
    assert_eq!(client.token_requests(), 2);
    assert_eq!(
        server.counts(CLIENT).refused,
        vec!["use_dpop_nonce".to_string()]
    );
    // The API is on the token endpoint's origin (the org), so the nonce the token endpoint gave
    // is the one the first proof carries: no API request is refused for its nonce.
    assert_eq!(server.requests_with_scheme("DPoP"), 2);
    assert_eq!(server.requests_with_scheme("Bearer"), 0);
}

#[tokio::test]
async fn a_token_the_api_no_longer_accepts_is_replaced_once() {
    let okta = FakeOkta::start("unused-ssws", None).await.unwrap();
    let server = okta.authorization_server();
    let pem = rsa_pem().unwrap();
    server.register(CLIENT, management_app(jwk_of(&pem).await, false));
    // Okta's lifetime outlives our reuse window by a tenth; a token revoked early (here: one
    // that expires the moment it is issued) is refused, dropped and fetched again, once.
    server.set_token_lifetime(0);
    let client = pem_client(&okta, &pem, CLIENT, false).await;
    let error = okta_client(&okta, client.clone())
        .list_log_streams()
        .await
        .unwrap_err();
    assert!(matches!(error, OktaError::TokenRefused { .. }), "{error}");
    assert!(error.to_string().contains("invalid_token"), "{error}");
    // The policy retries a refused token no further: one call, two tokens, no loop.
    assert_eq!(client.token_requests(), 2);
}

async fn refusal(app: Option<ServiceApp>, client_id: &str, pem: &str, dpop: bool) -> String {
    let okta = FakeOkta::start("unused-ssws", None).await.unwrap();
    if let Some(app) = app {
        okta.authorization_server().register(CLIENT, app);
    }
    let client = pem_client(&okta, pem, client_id, dpop).await;
    let error = okta_client(&okta, client)
        .list_log_streams()
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(!message.contains("eyJ"), "a JWT in an error: {message}");
    message
}

#[tokio::test]
async fn each_refusal_names_its_fix() {
    let pem = rsa_pem().unwrap();
    let app = management_app(jwk_of(&pem).await, false);

    let unknown = refusal(Some(app.clone()), "0oa-nobody", &pem, false).await;
    assert!(unknown.contains("Okta refused client 0oa-nobody's credentials (Invalid value for 'client_id' parameter.)"), "{unknown}");
    assert!(unknown.contains("`okta-relay auth jwks`"), "{unknown}");

    let other_key = refusal(Some(app.clone()), CLIENT, &rsa_pem().unwrap(), false).await;
    assert!(
        other_key.contains("(The client_assertion signature is invalid.)"),
        "{other_key}"
    );

    let mut narrow = app.clone();
    narrow.granted_scopes = vec!["okta.logs.read".into()];
    let scopes = refusal(Some(narrow), CLIENT, &pem, false).await;
    assert!(
        scopes.contains(&format!(
            "did not grant client {CLIENT} the scopes {MANAGEMENT_SCOPES}"
        )),
        "{scopes}"
    );
    assert!(scopes.contains("\"Okta API Scopes\" tab"), "{scopes}");

    let mut requires = app.clone();
    requires.require_dpop = true;
    let dpop_off = refusal(Some(requires), CLIENT, &pem, false).await;
    assert!(
        dpop_off.contains("(The DPoP proof JWT header is missing.)"),
        "{dpop_off}"
    );
    assert!(
        dpop_off.contains("set `dpop` on for this client"),
        "{dpop_off}"
    );

    let dpop_on = refusal(Some(app.clone()), CLIENT, &pem, true).await;
    assert!(dpop_on.contains("turn `dpop` off"), "{dpop_on}");

    let mut no_role = app.clone();
    no_role.admin_role = None;
    let role = refusal(Some(no_role), CLIENT, &pem, false).await;
    assert!(
        role.starts_with("Okta returned 403 to GET /api/v1/logStreams"),
        "{role}"
    );
    assert!(role.contains("Super Administrator"), "{role}");

    let mut reader = app.clone();
    reader.admin_role = Some("READ_ONLY_ADMIN".into());
    let okta = FakeOkta::start("unused-ssws", None).await.unwrap();
    okta.authorization_server().register(CLIENT, reader);
    let api = okta_client(&okta, pem_client(&okta, &pem, CLIENT, false).await);
    api.list_log_streams()
        .await
        .expect("a read-only admin app reads");
}

#[tokio::test]
async fn a_kms_key_signs_the_assertion_and_never_leaves_kms() {
    let moto = MotoServer::start().unwrap();
    let kms = aws_sdk_kms::Client::new(&moto.sdk_config().await);
    let key_id = okta_relay_e2e::moto::create_signing_key(&kms)
        .await
        .unwrap();
    let key = AssertionKey::Kms(KmsKey::new(kms.clone(), key_id.clone()));
    let jwk = key.public_jwk().await.unwrap();
    let okta = FakeOkta::start("unused-ssws", None).await.unwrap();
    let server = okta.authorization_server();
    server.register(CLIENT, management_app(jwk.published(), false));
    let client = Arc::new(
        OAuthClient::new(
            okta_api::http_client().unwrap(),
            settings(&okta, CLIENT, false),
            key,
        )
        .unwrap(),
    );
    okta_client(&okta, client.clone())
        .list_log_streams()
        .await
        .unwrap();
    assert_eq!(server.counts(CLIENT).issued, 1);

    // A key that cannot sign says what it needs.
    let encrypting = kms.create_key().send().await.unwrap();
    let key = AssertionKey::Kms(KmsKey::new(
        kms,
        encrypting.key_metadata().unwrap().key_id().to_owned(),
    ));
    let error = key.public_jwk().await.unwrap_err().to_string();
    assert!(
        error.contains("create it with KeyUsage SIGN_VERIFY"),
        "{error}"
    );
}

mod workflows_flows {
    use super::*;
    use okta_relay_e2e::workflows::WorkflowsEndpoint;
    use relay_core::{Deliver, DeliveryRequest, LoadOptions, Outcome, RouteTable, TokenSource};
    use secrecy::SecretString;
    use serde_json::json;
    use std::time::Duration;
    use workflows_client::auth::oauth2::OAuthClients;
    use workflows_client::{RetryPolicy, TokenError, TokenResolver, WorkflowsClient};

    const FLOWS_CLIENT: &str = "0oa-flows";
    const DPOP_CLIENT: &str = "0oa-flows-dpop";

    /// The PEM for `privateKeyEnv: "FLOW_KEY"` and `"DPOP_KEY"`, as a Lambda's SSM read would give.
    struct Keys {
        flows: String,
        dpop: String,
    }

    impl TokenResolver for Keys {
        async fn token(&self, source: &TokenSource) -> Result<SecretString, TokenError> {
            match source {
                TokenSource::Env(name) if name == "FLOW_KEY" => Ok(self.flows.clone().into()),
                TokenSource::Env(name) if name == "DPOP_KEY" => Ok(self.dpop.clone().into()),
                other => Err(TokenError::Missing(other.to_string())),
            }
        }
    }

    fn flow_app(jwk: serde_json::Value, require_dpop: bool) -> ServiceApp {
        ServiceApp {
            jwks: vec![jwk],
            granted_scopes: vec!["okta.workflows.invoke.manage".into()],
            require_dpop,
            admin_role: None,
        }
    }

    #[tokio::test]
    async fn oauth_and_dpop_flows_get_every_event_across_token_refreshes() {
        let okta = FakeOkta::start("unused-ssws", None).await.unwrap();
        let server = okta.authorization_server();
        let keys = Keys {
            flows: rsa_pem().unwrap(),
            dpop: p256_pem().unwrap(),
        };
        server.register(FLOWS_CLIENT, flow_app(jwk_of(&keys.flows).await, false));
        server.register(DPOP_CLIENT, flow_app(jwk_of(&keys.dpop).await, true));
        server.set_token_lifetime(2);
        let workflows = WorkflowsEndpoint::start().await.unwrap();
        workflows.secure_flow("/api/flo/oauth/invoke", &server, false);
        workflows.secure_flow("/api/flo/dpop/invoke", &server, true);
        let routes = json!({"version": 1, "routes": [
            {"name": "oauth", "pattern": {"detail": {"uuid": [{"exists": true}]}},
             "endpoint": workflows.url("/api/flo/oauth/invoke"),
             "auth": {"scheme": "oauth2", "clientId": FLOWS_CLIENT, "privateKeyEnv": "FLOW_KEY"}},
            {"name": "dpop", "pattern": {"detail": {"uuid": [{"exists": true}]}},
             "endpoint": workflows.url("/api/flo/dpop/invoke"),
             "auth": {"scheme": "oauth2", "clientId": DPOP_CLIENT, "privateKeyEnv": "DPOP_KEY", "dpop": true}}
        ]});
        let table = RouteTable::from_json(
            &routes.to_string(),
            LoadOptions {
                allow_http_localhost: true,
                ..Default::default()
            },
        )
        .unwrap();
        let base = Url::parse(&okta.base_url()).unwrap();
        let client = WorkflowsClient::new(
            workflows_client::workflows::http_client().unwrap(),
            keys,
            RetryPolicy {
                max_attempts: 1,
                ..RetryPolicy::default()
            },
        )
        .with_oauth(OAuthClients::new(
            okta_api::http_client().unwrap(),
            Some(ClientSettings::token_endpoint_of(&base)),
            None,
        ));
        // 7 rounds of 5 events, 1 s apart: 6 s, three token lifetimes.
        let mut delivered = 0;
        for round in 0..7 {
            for event in 0..5 {
                for route in table.routes() {
                    let uuid = format!("uuid-{round}-{event}");
                    let report = client
                        .deliver(DeliveryRequest {
                            route,
                            uuid: &uuid,
                            body: bytes::Bytes::from_static(b"{}"),
                            budget: Duration::from_secs(10),
                            earlier_attempts: 0,
                        })
                        .await;
                    assert!(
                        matches!(report.outcome, Outcome::Delivered),
                        "{:?}",
                        report.outcome
                    );
                    delivered += 1;
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        assert_eq!(delivered, 70);
        let bearer = server.counts(FLOWS_CLIENT);
        let dpop = server.counts(DPOP_CLIENT);
        // Rounds at 0, 1, …, 6 s with 2-s tokens reused for 1.8 s: a token at 0, 2, 4 and 6 s,
        // one per lifetime.
        assert_eq!(bearer.issued, 4, "{bearer:?}");
        assert_eq!(dpop.issued, 4, "{dpop:?}");
        // A DPoP token request costs a nonce round trip only the first time: the token
        // endpoint's later answers keep the nonce current.
        assert_eq!(dpop.refused, vec!["use_dpop_nonce".to_string()], "{dpop:?}");
        let received = workflows.received();
        let refused: Vec<_> = received.iter().filter(|r| !r.succeeded()).collect();
        // The DPoP flow asks for its own nonce once; nothing else is refused.
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert!(
            received
                .iter()
                .filter(|r| r.path.contains("dpop"))
                .all(|r| {
                    r.header("authorization")
                        .is_some_and(|value| value.starts_with("DPoP "))
                        && r.header("dpop").is_some()
                })
        );
        assert!(
            received
                .iter()
                .filter(|r| r.path.contains("/oauth/"))
                .all(|r| {
                    r.header("authorization")
                        .is_some_and(|value| value.starts_with("Bearer "))
                })
        );
    }
}
