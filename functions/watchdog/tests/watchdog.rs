#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

//! The watchdog's runs against moto (SSM, SQS, EventBridge, DynamoDB), the contract-checked fake
//! Okta (Log Streams and System Log with pagination and a rate limit) and a local Workflows
//! endpoint: Okta deactivating the stream is noticed and undone, and the outage's events are
//! relayed once each, across runs when one runs out of time.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_ssm::types::ParameterType;
use chrono::Utc;
use okta_relay_e2e::fake_okta::FakeOkta;
use okta_relay_e2e::moto::{MotoServer, REGION};
use okta_relay_e2e::system_log;
use okta_relay_e2e::workflows::WorkflowsEndpoint;
use provisioning::StreamHealth;
use relay_core::{DeliveryKey, IdempotencyStore};
use serde_json::{Value, json};
use tokio::time::Instant;
use watchdog::backfill::PAGE_RESERVE;
use watchdog::{WatchdogClients, WatchdogConfig, metric_line, run};

const TOKEN: &str = "00watchdog-okta-token";
const CLIENT_TOKEN: &str = "wf-watchdog-client-token";
const STATE: &str = "/okta-relay/backfill-state";
const TABLE: &str = "okta-relay-dedup";
const FAR: Duration = Duration::from_secs(200);

struct World {
    _moto: MotoServer,
    okta: FakeOkta,
    workflows: WorkflowsEndpoint,
    ssm: aws_sdk_ssm::Client,
    sdk: aws_config::SdkConfig,
    env: HashMap<&'static str, String>,
}

impl World {
    async fn start(dedup: bool) -> Self {
        let moto = MotoServer::start().unwrap();
        let sdk = moto.sdk_config().await;
        let okta = FakeOkta::start(TOKEN, Some(sdk.clone())).await.unwrap();
        let workflows = WorkflowsEndpoint::start().await.unwrap();
        let ssm = aws_sdk_ssm::Client::new(&sdk);
        let routes = json!({"version": 1, "routes": [
            {"name": "sessions", "pattern": {"detail": {"eventType": [{"prefix": "user.session."}]}},
             "endpoint": workflows.url("/sessions"), "auth": {"tokenParameter": "/okta-relay/tokens/wf"}},
            {"name": "all", "pattern": {"source": [{"prefix": "aws.partner/okta.com/"}]},
             "endpoint": workflows.url("/all"), "auth": {"tokenParameter": "/okta-relay/tokens/wf"}}
        ]});
        for (name, value, kind) in [
            (
                "/okta-relay/okta-api-token",
                TOKEN.to_string(),
                ParameterType::SecureString,
            ),
            (
                "/okta-relay/tokens/wf",
                CLIENT_TOKEN.to_string(),
                ParameterType::SecureString,
            ),
            (
                "/okta-relay/routes",
                routes.to_string(),
                ParameterType::String,
            ),
            (STATE, r#"{"gaps":[]}"#.to_string(), ParameterType::String),
        ] {
            ssm.put_parameter()
                .name(name)
                .value(value)
                .r#type(kind)
                .send()
                .await
                .unwrap();
        }
        let queue_url = okta_relay_e2e::moto::create_queue(&sdk, "okta-relay-dlq")
            .await
            .unwrap();
        let mut env = HashMap::from([
            ("OKTA_ORG_URL", "https://example.okta.com".to_string()),
            ("ACCOUNT_ID", "123456789012".into()),
            ("EVENT_SOURCE_NAME", "okta-relay".into()),
            ("AWS_REGION", REGION.into()),
            (
                "OKTA_API_TOKEN_PARAMETER",
                "/okta-relay/okta-api-token".into(),
            ),
            ("OKTA_API_BASE_URL", okta.base_url()),
            ("ROUTES_PARAMETER", "/okta-relay/routes".into()),
            ("DEAD_LETTER_QUEUE_URL", queue_url),
            ("ALLOW_HTTP_LOCALHOST", "true".into()),
            ("BACKFILL_STATE_PARAMETER", STATE.into()),
            ("BACKFILL_PAGE_SIZE", "5".into()),
        ]);
        if dedup {
            okta_relay_e2e::moto::create_dedup_table(&sdk, TABLE)
                .await
                .unwrap();
            env.insert("DEDUP_TABLE", TABLE.into());
        }
        okta.seed_stream(
            "okta-relay",
            json!({"accountId": "123456789012", "eventSourceName": "okta-relay", "region": REGION}),
            true,
        );
        Self {
            _moto: moto,
            okta,
            workflows,
            ssm,
            sdk,
            env,
        }
    }

    fn config(&self) -> WatchdogConfig {
        WatchdogConfig::from_env(|name| self.env.get(name).cloned()).unwrap()
    }

    async fn aws(&self) -> WatchdogClients {
        WatchdogClients::new(&self.sdk, &self.config()).unwrap()
    }

    async fn state(&self) -> Value {
        let text = aws_adapters::read_parameter(&self.ssm, STATE, "state")
            .await
            .unwrap();
        serde_json::from_str(&text).unwrap()
    }

    /// How many times each (path, uuid) reached the endpoint with a 2xx.
    fn deliveries(&self) -> HashMap<(String, String), usize> {
        let mut counts = HashMap::new();
        for request in self.workflows.received().iter().filter(|r| r.succeeded()) {
            assert_eq!(request.header("x-api-client-token"), Some(CLIENT_TOKEN));
            let uuid = request.header("idempotency-key").unwrap().to_string();
            *counts.entry((request.path.clone(), uuid)).or_default() += 1;
        }
        counts
    }

    /// Okta deactivates the stream now; events published around it: 4 an hour before (outside
    /// the window), `count` from 10 minutes before, 20 s apart (inside the default 15-minute
    /// overlap). Returns the events inside the window.
    fn outage(&self, count: usize) -> Vec<Value> {
        self.okta.deactivate_out_of_band("okta-relay");
        let now = Utc::now();
        let before = system_log::events(
            "old",
            4,
            now - chrono::Duration::hours(1),
            chrono::Duration::seconds(20),
        );
        let gap = system_log::events(
            "gap",
            count,
            now - chrono::Duration::minutes(10),
            chrono::Duration::seconds(20),
        );
        self.okta
            .seed_log_events(before.into_iter().chain(gap.clone()));
        gap
    }
}

fn uuid(event: &Value) -> String {
    event["uuid"].as_str().unwrap().to_string()
}

/// How many of `events` the `sessions` route takes.
fn session_events(events: &[Value]) -> usize {
    events
        .iter()
        .filter(|e| {
            e["eventType"]
                .as_str()
                .unwrap()
                .starts_with("user.session.")
        })
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_outage_is_undone_and_its_events_relayed_once_with_deduplication_on() {
    let world = World::start(true).await;
    let (config, aws) = (world.config(), world.aws().await);

    let healthy = run(&config, &aws, Instant::now() + FAR).await.unwrap();
    assert_eq!(
        (healthy.watch.health.clone(), healthy.backfill.clone()),
        (StreamHealth::Active, None)
    );

    let gap = world.outage(23);
    // The stream delivered the first three to both routes before Okta gave up on it.
    let store = aws_adapters::DynamoDbIdempotency::new(
        aws_sdk_dynamodb::Client::new(&world.sdk),
        TABLE.into(),
        Duration::from_secs(3600),
    );
    for event in &gap[..3] {
        for route in ["sessions", "all"] {
            let uuid = &uuid(event);
            let key = DeliveryKey { route, uuid };
            store.claim(key, Duration::from_secs(30)).await.unwrap();
            store.complete(key).await.unwrap();
        }
    }
    world.okta.set_log_rate_limit(2, 1);

    let repaired = run(&config, &aws, Instant::now() + FAR).await.unwrap();

    assert_eq!(repaired.watch.health, StreamHealth::Reactivated);
    assert_eq!(world.okta.streams()[0].2, "ACTIVE");
    let report = repaired.backfill.clone().unwrap();
    let sessions = session_events(&gap);
    let sessions_before = session_events(&gap[..3]);
    assert_eq!(
        (report.events, report.windows_done, report.windows_left),
        (23, 1, 0)
    );
    assert_eq!(report.pages, 5, "{report:?}");
    assert_eq!(report.duplicates_skipped as usize, 3 + sessions_before);
    assert_eq!(report.delivered as usize, 20 + sessions - sessions_before);
    assert_eq!(report.dead_lettered, 0);
    let deliveries = world.deliveries();
    assert!(
        deliveries.values().all(|count| *count == 1),
        "{deliveries:?}"
    );
    for event in &gap[3..] {
        assert!(
            deliveries.contains_key(&("/all".into(), uuid(event))),
            "{event}"
        );
    }
    assert!(deliveries.keys().all(|(_, uuid)| !uuid.starts_with("old-")));
    assert_eq!(world.state().await, json!({"gaps": []}));
    let line: Value = serde_json::from_str(&metric_line("wd", &repaired, 1)).unwrap();
    assert_eq!(
        (
            line["StreamReactivated"].clone(),
            line["BackfilledEvents"].clone()
        ),
        (json!(1), json!(23))
    );
    assert_eq!(line["BackfillWindowsPending"], 0);

    let after = run(&config, &aws, Instant::now() + FAR).await.unwrap();
    assert_eq!(
        (after.watch.health, after.backfill),
        (StreamHealth::Active, None)
    );
    assert_eq!(world.deliveries(), deliveries);
    assert_eq!(world.okta.violations(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_out_of_time_leaves_the_rest_to_the_next_run_which_sends_each_event_once() {
    let mut world = World::start(false).await;
    // The rule's pattern applies to backfilled events as to streamed ones.
    world.env.insert(
        "EVENT_PATTERN",
        r#"{"detail": {"eventType": [{"anything-but": "user.account.lock"}]}}"#.into(),
    );
    let (config, aws) = (world.config(), world.aws().await);
    let gap = world.outage(12);
    let passing: Vec<Value> = gap
        .iter()
        .filter(|e| e["eventType"] != "user.account.lock")
        .cloned()
        .collect();
    assert!(passing.len() < gap.len());
    // One System Log request a second: reading the first page waits out the limit (at least a
    // second), so a run given 0.8 s more than the watchdog keeps for a page relays one page and
    // saves where it got to.
    world.okta.set_log_rate_limit(1, 1);

    let short = run(
        &config,
        &aws,
        Instant::now() + PAGE_RESERVE + Duration::from_millis(800),
    )
    .await
    .unwrap();

    let line: Value = serde_json::from_str(&metric_line("wd", &short, 1)).unwrap();
    assert_eq!(
        (
            line["StreamReactivated"].clone(),
            line["BackfillWindowsPending"].clone()
        ),
        (json!(1), json!(1))
    );
    let first = short.backfill.unwrap();
    assert_eq!((first.pages, first.events, first.windows_left), (1, 5, 1));
    let saved = world.state().await;
    assert!(
        saved["gaps"][0]["next"]
            .as_str()
            .unwrap()
            .contains("after="),
        "{saved}"
    );

    let rest = run(&config, &aws, Instant::now() + FAR).await.unwrap();
    assert_eq!(rest.watch.health, StreamHealth::Active);
    let second = rest.backfill.unwrap();
    assert_eq!((second.events, second.windows_left), (7, 0));
    // Without an idempotency store, the saved page link is what keeps this exact.
    let deliveries = world.deliveries();
    assert_eq!(deliveries.len(), passing.len() + session_events(&passing));
    assert_eq!(
        first.filtered_out + second.filtered_out,
        (gap.len() - passing.len()) as u64
    );
    assert!(
        deliveries.values().all(|count| *count == 1),
        "{deliveries:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn okta_refusing_the_token_fails_the_run_without_printing_it() {
    let world = World::start(false).await;
    world
        .ssm
        .put_parameter()
        .name("/okta-relay/okta-api-token")
        .value("00revoked")
        .overwrite(true)
        .r#type(ParameterType::SecureString)
        .send()
        .await
        .unwrap();
    let error = run(&world.config(), &world.aws().await, Instant::now() + FAR)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("Okta returned 401"), "{error}");
    assert!(!error.to_string().contains("00revoked"), "{error}");
}

#[test]
fn configuration_errors_name_the_variable() {
    let error = WatchdogConfig::from_env(|name| {
        (name == "OKTA_ORG_URL").then(|| "https://example.okta.com".into())
    })
    .unwrap_err();
    assert!(
        error.to_string().contains("ACCOUNT_ID is not set"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_backfill_record_fails_the_run_but_never_keeps_the_stream_off() {
    let world = World::start(false).await;
    world
        .ssm
        .put_parameter()
        .name(STATE)
        .value("gaps: none")
        .overwrite(true)
        .r#type(ParameterType::String)
        .send()
        .await
        .unwrap();
    world.outage(3);

    let error = run(&world.config(), &world.aws().await, Instant::now() + FAR)
        .await
        .unwrap_err();

    assert!(
        error.to_string().contains("does not hold backfill windows"),
        "{error}"
    );
    assert!(
        error.to_string().contains(r#"put {"gaps":[]} in it"#),
        "{error}"
    );
    assert_eq!(world.okta.streams()[0].2, "ACTIVE", "re-activated first");
    assert!(world.workflows.received().is_empty());
}
