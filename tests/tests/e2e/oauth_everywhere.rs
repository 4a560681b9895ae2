//! Scenario 12: OAuth 2.0 everywhere, no API token anywhere. The provisioner and the watchdog
//! (release binaries) reach Okta's Management API as an API service app whose client
//! assertions a KMS key signs (moto) and whose tokens are DPoP-bound; the relay delivers to a flow
//! secured with OAuth 2.0 (Bearer token, assertion signed by a PEM key in SSM) and to one whose
//! tokens are DPoP-bound (KMS key). Every token lives 2 seconds, so deliveries span several
//! refreshes. The fake Okta counts every `Authorization` scheme it receives and every token
//! request; no SSWS header reaches it, and no assertion, token or key reaches any output.

use std::time::{Duration, Instant};

use okta_oauth::{AssertionKey, KmsKey, PemKey};
use okta_relay_e2e::authorization_server::{ServiceApp, rsa_pem};
use okta_relay_e2e::fake_okta::FakeOkta;
use okta_relay_e2e::moto::{MotoServer, create_signing_key};
use okta_relay_e2e::report;
use okta_relay_e2e::system_log;
use serde_json::{Value, json};

use crate::world::*;

const MANAGEMENT_CLIENT: &str = "0oa-okta-relay-management";
const FLOWS_CLIENT: &str = "0oa-okta-relay-flows";
const DPOP_FLOWS_CLIENT: &str = "0oa-okta-relay-flows-dpop";
const FLOWS_KEY_PARAMETER: &str = "/okta-relay/workflows/flows-oauth-key";
const TOKEN_LIFETIME_SECONDS: u64 = 2;
const CONTAINERS: usize = 2;

fn pattern() -> Value {
    json!({"source": [{"prefix": "aws.partner/okta.com/"}]})
}

fn app(jwk: Value, scopes: &str, require_dpop: bool, admin_role: Option<&str>) -> ServiceApp {
    ServiceApp {
        jwks: vec![jwk],
        granted_scopes: scopes.split(' ').map(str::to_owned).collect(),
        require_dpop,
        admin_role: admin_role.map(str::to_owned),
    }
}

/// Both routes secured with OAuth 2.0: `/sessions` DPoP-bound with the KMS key, `/everything`
/// with Bearer tokens and the PEM in SSM.
fn oauth_routes(relay: &Relay, kms_key: &str) -> Value {
    json!({"version": 1, "routes": [
        {"name": "sessions", "pattern": {"detail": {"eventType": [{"prefix": "user.session."}]}},
         "endpoint": relay.workflows.url("/sessions"), "maxRequestsPerSecond": 1000,
         "auth": {"scheme": "oauth2", "clientId": DPOP_FLOWS_CLIENT, "signingKey": kms_key, "dpop": true}},
        {"name": "everything", "pattern": {"source": [{"prefix": "aws.partner/okta.com/"}]},
         "endpoint": relay.workflows.url("/everything"), "maxRequestsPerSecond": 1000,
         "auth": {"scheme": "oauth2", "clientId": FLOWS_CLIENT, "privateKeyParameter": FLOWS_KEY_PARAMETER}}
    ]})
}

fn routes_of(event: &Value) -> Vec<&'static str> {
    let session = event["eventType"]
        .as_str()
        .is_some_and(|kind| kind.starts_with("user.session."));
    if session {
        vec!["sessions", "everything"]
    } else {
        vec!["everything"]
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scenario_12_provision_watch_backfill_and_deliver_with_oauth_only() {
    let moto = MotoServer::start().unwrap();
    let aws = moto.sdk_config().await;
    let kms = aws_sdk_kms::Client::new(&aws);
    let okta = FakeOkta::start("ssws-token-never-sent", Some(aws.clone()))
        .await
        .unwrap();
    let server = okta.authorization_server();
    server.set_token_lifetime(TOKEN_LIFETIME_SECONDS);

    // The service apps as an admin registers them: the public halves only.
    let management_key = create_signing_key(&kms).await.unwrap();
    let flows_dpop_key = create_signing_key(&kms).await.unwrap();
    let public = |key_id: &str| {
        let key = AssertionKey::Kms(KmsKey::new(kms.clone(), key_id.to_owned()));
        async move { key.public_jwk().await.unwrap().published() }
    };
    let flows_pem = rsa_pem().unwrap();
    let flows_jwk = AssertionKey::Pem(PemKey::parse(flows_pem.as_bytes(), "pem").unwrap())
        .public_jwk()
        .await
        .unwrap()
        .published();
    server.register(
        MANAGEMENT_CLIENT,
        app(
            public(&management_key).await,
            okta_api::MANAGEMENT_SCOPES,
            true,
            Some("SUPER_ADMIN"),
        ),
    );
    let invoke = "okta.workflows.invoke.manage";
    server.register(FLOWS_CLIENT, app(flows_jwk, invoke, false, None));
    server.register(
        DPOP_FLOWS_CLIENT,
        app(public(&flows_dpop_key).await, invoke, true, None),
    );

    let mut deployment = Deployment::new(CONTAINERS, 300);
    deployment.dedup = true;
    deployment.extra_env = vec![("OKTA_API_BASE_URL".into(), okta.base_url())];
    let relay = Relay::deploy_on(deployment, moto).await;
    put_parameter(&relay.ssm, FLOWS_KEY_PARAMETER, &flows_pem, true).await;
    put_parameter(
        &relay.ssm,
        ROUTES_PARAMETER,
        &oauth_routes(&relay, &flows_dpop_key).to_string(),
        false,
    )
    .await;
    relay.workflows.secure_flow("/sessions", &server, true);
    relay.workflows.secure_flow("/everything", &server, false);
    put_parameter(&relay.ssm, BACKFILL_STATE, r#"{"gaps":[]}"#, false).await;
    let access = [
        ("OKTA_OAUTH_CLIENT_ID", MANAGEMENT_CLIENT.to_string()),
        ("OKTA_OAUTH_SIGNING_KEY", management_key.clone()),
        ("OKTA_OAUTH_DPOP", "true".to_string()),
    ];

    // Provision.
    let provisioner = Provisioner::start_with_access(&relay.moto, &okta, &access).await;
    let created = provisioner
        .request("Create", None, &stream_properties(&pattern()))
        .await;
    assert_eq!(
        created["Status"],
        "SUCCESS",
        "{created}: {}",
        provisioner.process.log()
    );

    // Stream four waves two seconds apart: each wave needs new tokens.
    let started = Instant::now();
    let now = chrono::Utc::now();
    let mut streamed = Vec::new();
    for wave in 0..4 {
        let events = system_log::events(
            &format!("live{wave}"),
            12,
            now - chrono::Duration::minutes(10) + chrono::Duration::seconds(wave * 20),
            chrono::Duration::seconds(1),
        );
        assert_eq!(
            okta_streams(&relay, PARTNER_SOURCE, "okta-relay", &events).await,
            0
        );
        relay.drain(DRAIN_TIMEOUT).await;
        streamed.extend(events);
        tokio::time::sleep(Duration::from_millis(TOKEN_LIFETIME_SECONDS * 1000)).await;
    }
    let streaming_took = started.elapsed();

    // An outage Okta gave up on: the watchdog re-activates the stream and backfills the window.
    let gave_up = chrono::Utc::now() - chrono::Duration::seconds(30);
    let gap = system_log::events(
        "gap",
        10,
        gave_up + chrono::Duration::seconds(1),
        chrono::Duration::seconds(2),
    );
    okta.seed_log_events(streamed.iter().chain(&gap).cloned());
    okta.okta_gives_up_at("okta-relay", gave_up);
    let mut watchdog_env: Vec<(&str, String)> = access.to_vec();
    watchdog_env.push(("BACKFILL_SETTLE_SECONDS", "2".into()));
    let watchdog = Watchdog::start(&relay, &okta, &watchdog_env).await;
    let first = watchdog.run().await;
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    let second = watchdog.run().await;
    relay.drain(DRAIN_TIMEOUT).await;
    assert_eq!(first["watch"]["health"], "reactivated", "{first}");
    assert_eq!(second["backfill"]["windowsLeft"], 0, "{second}");
    let backfilled = second["backfill"]["events"].as_u64().unwrap();
    assert!(backfilled >= gap.len() as u64, "{second}");

    // Every (event, route) pair delivered once; nothing dead-lettered.
    let delivered = delivered_once(&relay.workflows);
    for event in streamed.iter().chain(&gap) {
        let uuid = event["uuid"].as_str().unwrap();
        for route in routes_of(event) {
            assert!(
                delivered.contains_key(&(route.to_string(), uuid.to_string())),
                "{uuid} never reached {route}: {}",
                relay.logs()
            );
        }
    }
    let letters = relay.dead_letters().await;
    assert!(letters.is_empty(), "dead letters: {letters:?}");

    // No API token ever; the Management API saw DPoP only.
    assert_eq!(server.requests_with_scheme("SSWS"), 0);
    assert!(server.requests_with_scheme("DPoP") > 0);
    let management = server.counts(MANAGEMENT_CLIENT);
    let flows = server.counts(FLOWS_CLIENT);
    let dpop_flows = server.counts(DPOP_FLOWS_CLIENT);
    // About one token per lifetime per container: at most one per 1.8 s of the run, per
    // container, plus the first.
    let whole = started.elapsed().as_secs_f64();
    let most = (CONTAINERS as f64 * (whole / 1.8 + 1.0)).ceil() as u32;
    for (name, counts) in [("flows", &flows), ("dpop flows", &dpop_flows)] {
        assert!(
            counts.issued >= 3,
            "{name}: several refreshes expected: {counts:?}"
        );
        assert!(
            counts.issued <= most,
            "{name}: {} tokens, at most {most}: {counts:?}",
            counts.issued
        );
    }
    // The DPoP clients' only refusals are the nonce round trips.
    for counts in [&management, &dpop_flows] {
        assert!(
            counts.refused.iter().all(|error| error == "use_dpop_nonce"),
            "{counts:?}"
        );
    }

    // No assertion, token, proof or key in any output.
    let pem_line = flows_pem.lines().nth(2).unwrap().to_string();
    let outputs = [
        ("the relay's logs", relay.logs()),
        ("the provisioner's log", provisioner.process.log()),
        ("the watchdog's log", watchdog.process.log()),
        ("the watchdog's answers", format!("{first}{second}")),
        ("CloudFormation's answer", created.to_string()),
    ];
    for (place, text) in &outputs {
        assert_no_secrets(place, text);
        for needle in ["eyJ", "oat.", pem_line.as_str()] {
            assert!(
                !text.contains(needle),
                "an OAuth secret ({needle:.6}…) leaked into {place}"
            );
        }
    }

    report(format!(
        "scenario 12 (OAuth everywhere): {} pairs delivered once over {:.1} s of streaming and a \
         backfill of {backfilled} events, 0 dead letters, 0 SSWS requests; 2-s tokens issued: \
         management {}, flows {}, DPoP flows {} ({CONTAINERS} relay containers, at most {most}); \
         token requests refused for a DPoP nonce: management {}, DPoP flows {}",
        delivered.len(),
        streaming_took.as_secs_f64(),
        management.issued,
        flows.issued,
        dpop_flows.issued,
        management.refused.len(),
        dpop_flows.refused.len(),
    ));
}
