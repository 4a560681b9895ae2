#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

//! The watchdog's runs against moto (SSM, SQS, EventBridge) and the contract-checked fake Okta
//! (Log Streams and System Log with pagination and a rate limit): Okta deactivating the stream is
//! noticed and undone, and the outage's events reach the relay's inbox once each, across runs
//! when one runs out of time.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_ssm::types::ParameterType;
use chrono::Utc;
use okta_relay_e2e::fake_okta::FakeOkta;
use okta_relay_e2e::moto::{MotoServer, REGION};
use okta_relay_e2e::system_log;
use provisioning::StreamHealth;
use serde_json::{Value, json};
use tokio::time::Instant;
use watchdog::backfill::PAGE_RESERVE;
use watchdog::{WatchdogClients, WatchdogConfig, metric_line, run};

const TOKEN: &str = "00watchdog-okta-token";
const STATE: &str = "/okta-relay/backfill-state";
const FAR: Duration = Duration::from_secs(200);

struct World {
    _moto: MotoServer,
    okta: FakeOkta,
    ssm: aws_sdk_ssm::Client,
    inbox_url: String,
    sdk: aws_config::SdkConfig,
    env: HashMap<&'static str, String>,
}

impl World {
    async fn start() -> Self {
        let moto = MotoServer::start().unwrap();
        let sdk = moto.sdk_config().await;
        let okta = FakeOkta::start(TOKEN, Some(sdk.clone())).await.unwrap();
        let ssm = aws_sdk_ssm::Client::new(&sdk);
        for (name, value, kind) in [
            (
                "/okta-relay/okta-api-token",
                TOKEN.to_string(),
                ParameterType::SecureString,
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
        let inbox_url = okta_relay_e2e::moto::create_queue(&sdk, "okta-relay-inbox")
            .await
            .unwrap();
        let env = HashMap::from([
            ("OKTA_ORG_URL", "https://example.okta.com".to_string()),
            ("ACCOUNT_ID", "123456789012".into()),
            ("EVENT_SOURCE_NAME", "okta-relay".into()),
            ("AWS_REGION", REGION.into()),
            (
                "OKTA_API_TOKEN_PARAMETER",
                "/okta-relay/okta-api-token".into(),
            ),
            ("OKTA_API_BASE_URL", okta.base_url()),
            ("INBOX_QUEUE_URL", inbox_url.clone()),
            ("BACKFILL_STATE_PARAMETER", STATE.into()),
            ("BACKFILL_PAGE_SIZE", "5".into()),
            ("BACKFILL_SETTLE_SECONDS", "0".into()),
        ]);
        okta.seed_stream(
            "okta-relay",
            json!({"accountId": "123456789012", "eventSourceName": "okta-relay", "region": REGION}),
            true,
        );
        Self {
            _moto: moto,
            okta,
            ssm,
            inbox_url,
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

    /// The `system.log_stream.lifecycle.activate` events in the System Log: the watchdog's
    /// re-activation is an event of the outage's window too.
    fn activations(&self) -> Vec<Value> {
        self.okta
            .log_events()
            .into_iter()
            .filter(|event| event["eventType"] == okta::ACTIVATE_EVENT)
            .collect()
    }

    /// Takes everything waiting in the relay's inbox: how many times each event uuid is there.
    /// Each message is an EventBridge event from the partner source, as the stream sends them.
    async fn take_inbox(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        let bodies = okta_relay_e2e::moto::drain_queue(&self.sdk, &self.inbox_url)
            .await
            .unwrap();
        for body in bodies {
            let event: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(event["source"], "aws.partner/okta.com/example/okta-relay");
            assert_eq!(event["detail-type"], "SystemLog");
            let uuid = event["detail"]["uuid"].as_str().unwrap().to_string();
            *counts.entry(uuid).or_default() += 1;
        }
        counts
    }

    /// Okta gave up on the target 10 minutes ago (its deactivation event is in the System Log),
    /// and the stream has been off since. Around it: 4 events an hour before (outside the
    /// window), 3 in the last minute before it (inside the 2-minute overlap: the failed
    /// delivery attempts), the deactivation event, and `count` after it, 20 s apart. Returns
    /// the events inside the window, oldest first.
    fn outage(&self, count: usize) -> Vec<Value> {
        let gave_up = Utc::now() - chrono::Duration::minutes(10);
        self.okta.okta_gives_up_at("okta-relay", gave_up);
        let seconds = chrono::Duration::seconds;
        let old = system_log::events("old", 4, gave_up - chrono::Duration::hours(1), seconds(20));
        let failing = system_log::events("failing", 3, gave_up - seconds(60), seconds(20));
        let gap = system_log::events("gap", count, gave_up + seconds(10), seconds(20));
        self.okta
            .seed_log_events(old.into_iter().chain(failing).chain(gap));
        let window_start = gave_up - seconds(120);
        self.okta
            .log_events()
            .into_iter()
            .filter(|event| {
                let published: chrono::DateTime<Utc> =
                    event["published"].as_str().unwrap().parse().unwrap();
                published >= window_start
            })
            .collect()
    }
}

const SOURCE: &str = "aws.partner/okta.com/example/okta-relay";
const INBOX_ARN: &str = "arn:aws:sqs:us-east-1:123456789012:okta-relay-inbox";
const PATTERN: &str = r#"{"source":[{"prefix":"aws.partner/okta.com"}]}"#;
const STACK: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/okta-relay/1";

impl World {
    /// The partner source, its bus (tagged for `owner`), and the rule to the inbox, as the
    /// provisioner makes them.
    async fn provision_path(&self, owner: Option<&str>) -> aws_sdk_eventbridge::Client {
        let eventbridge = aws_sdk_eventbridge::Client::new(&self.sdk);
        eventbridge
            .create_partner_event_source()
            .name(SOURCE)
            .account("123456789012")
            .send()
            .await
            .unwrap();
        let tags = owner.map(|owner| {
            aws_sdk_eventbridge::types::Tag::builder()
                .key(provisioning::OWNER_TAG)
                .value(owner)
                .build()
                .unwrap()
        });
        eventbridge
            .create_event_bus()
            .name(SOURCE)
            .event_source_name(SOURCE)
            .set_tags(tags.map(|tag| vec![tag]))
            .send()
            .await
            .unwrap();
        eventbridge
            .put_rule()
            .name("okta-relay")
            .event_bus_name(SOURCE)
            .event_pattern(PATTERN)
            .send()
            .await
            .unwrap();
        let target = aws_sdk_eventbridge::types::Target::builder()
            .id("okta-relay")
            .arn(INBOX_ARN)
            .build()
            .unwrap();
        eventbridge
            .put_targets()
            .rule("okta-relay")
            .event_bus_name(SOURCE)
            .targets(target)
            .send()
            .await
            .unwrap();
        eventbridge
    }

    /// What the watchdog needs to repair the path for `STACK`, which made the stream.
    fn repairs(&mut self) {
        let stream_id = self.okta.streams()[0].0.clone();
        self.env.insert("LOG_STREAM_ID", stream_id);
        for (name, value) in [
            ("RULE_NAME", "okta-relay"),
            ("RULE_TARGET_ARN", INBOX_ARN),
            ("EVENT_PATTERN", PATTERN),
            ("LOG_STREAM_NAME", "okta-relay"),
            ("STACK_ID", STACK),
        ] {
            self.env.insert(name, value.into());
        }
    }

    /// Deletes the rule's target, the rule and the bus, as someone in the console would.
    async fn delete_path(&self, eventbridge: &aws_sdk_eventbridge::Client) {
        okta_relay_e2e::moto::delete_partner_path(eventbridge, SOURCE, "okta-relay")
            .await
            .unwrap();
    }
}

fn uuid(event: &Value) -> String {
    event["uuid"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_outage_is_undone_and_its_events_put_in_the_inbox_once() {
    let world = World::start().await;
    let (config, aws) = (world.config(), world.aws().await);

    let healthy = run(&config, &aws, Instant::now() + FAR).await.unwrap();
    assert_eq!(
        (healthy.watch.health.clone(), healthy.backfill.clone()),
        (StreamHealth::Active, None)
    );

    let gap = world.outage(23);
    world.okta.set_log_rate_limit(2, 1);

    let repaired = run(&config, &aws, Instant::now() + FAR).await.unwrap();
    let gap = [gap, world.activations()].concat();

    assert_eq!(repaired.watch.health, StreamHealth::Reactivated);
    assert_eq!(world.okta.streams()[0].2, "ACTIVE");
    let report = repaired.backfill.clone().unwrap();
    assert_eq!(
        (report.events, report.windows_done, report.windows_left),
        (gap.len() as u64, 1, 0),
        "the window starts 2 minutes before Okta's deactivation event: {report:?}"
    );
    assert_eq!(report.pages, (gap.len() as u64).div_ceil(5), "{report:?}");
    // The relay delivers, de-duplicates and dead-letters them; the watchdog only queues.
    assert_eq!(report.queued, gap.len() as u64);
    assert_eq!((report.delivered, report.dead_lettered), (0, 0));
    let queued = world.take_inbox().await;
    assert_eq!(queued.len(), gap.len());
    assert!(queued.values().all(|count| *count == 1), "{queued:?}");
    for event in &gap {
        assert!(queued.contains_key(&uuid(event)), "{event}");
    }
    assert!(queued.keys().all(|uuid| !uuid.starts_with("old-")));
    assert_eq!(world.state().await["gaps"], json!([]));
    let line: Value = serde_json::from_str(&metric_line("wd", &repaired, 1)).unwrap();
    assert_eq!(
        (
            line["StreamReactivated"].clone(),
            line["BackfilledEvents"].clone()
        ),
        (json!(1), json!(gap.len()))
    );
    assert_eq!(line["BackfillWindowsPending"], 0);

    let after = run(&config, &aws, Instant::now() + FAR).await.unwrap();
    assert_eq!(
        (after.watch.health, after.backfill),
        (StreamHealth::Active, None)
    );
    assert!(world.take_inbox().await.is_empty());
    assert_eq!(world.okta.violations(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_out_of_time_leaves_the_rest_to_the_next_run_which_queues_each_event_once() {
    let mut world = World::start().await;
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
    // second), so a run given 0.8 s more than the watchdog keeps for a page reads one page and
    // saves where it got to.
    world.okta.set_log_rate_limit(1, 1);

    let short = run(
        &config,
        &aws,
        Instant::now() + PAGE_RESERVE + Duration::from_millis(800),
    )
    .await
    .unwrap();
    // The re-activation is an event of the window too (and passes the rule).
    let (gap, passing) = (
        [gap, world.activations()].concat(),
        [passing, world.activations()].concat(),
    );

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
    assert_eq!(short.windows_pending, 1);
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
    assert_eq!(
        (second.events, second.windows_left),
        (gap.len() as u64 - 5, 0)
    );
    // The saved page link is what keeps this exact.
    let queued = world.take_inbox().await;
    assert_eq!(queued.len(), passing.len());
    assert_eq!(
        first.filtered_out + second.filtered_out,
        (gap.len() - passing.len()) as u64
    );
    assert!(queued.values().all(|count| *count == 1), "{queued:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn okta_refusing_the_token_fails_the_run_without_printing_it() {
    let world = World::start().await;
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
    let world = World::start().await;
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
    assert!(world.take_inbox().await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_person_s_deactivation_is_left_alone_and_reported_with_who_and_when() {
    let world = World::start().await;
    let at = Utc::now() - chrono::Duration::minutes(3);
    world
        .okta
        .admin_deactivates("okta-relay", "jane@acme.com", at);

    let run1 = run(&world.config(), &world.aws().await, Instant::now() + FAR)
        .await
        .unwrap();

    assert_eq!(run1.watch.health, StreamHealth::DeactivatedByPerson);
    assert_eq!(world.okta.streams()[0].2, "INACTIVE", "left off");
    let who = run1.watch.deactivated_by.clone().unwrap().to_string();
    assert!(
        who.contains("jane@acme.com") && who.contains("User"),
        "{who}"
    );
    assert_eq!(
        run1.watch.inactive_since.as_deref(),
        Some(
            at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                .as_str()
        )
    );
    assert_eq!(run1.watch.inactive_since_from, Some("deactivation_event"));
    assert_eq!((run1.backfill.clone(), run1.windows_pending), (None, 0));
    assert_eq!(
        world.state().await,
        json!({"gaps": []}),
        "no window recorded"
    );
    let line: Value = serde_json::from_str(&metric_line("wd", &run1, 1)).unwrap();
    assert_eq!(
        (
            line["StreamDeactivatedByPerson"].clone(),
            line["StreamReactivated"].clone()
        ),
        (json!(1), json!(0))
    );
    assert!(
        !world
            .okta
            .requests()
            .iter()
            .any(|r| r.operation == "activateLogStream"),
        "never activated"
    );
    assert_eq!(world.okta.violations(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_window_is_read_once_it_has_settled_so_late_events_are_in_it() {
    let mut world = World::start().await;
    world.env.insert("BACKFILL_SETTLE_SECONDS", "2".into());
    let (config, aws) = (world.config(), world.aws().await);
    let mut window = world.outage(4);
    // Two events of the outage reach the System Log only a second after the watchdog's run.
    let late = system_log::events(
        "late",
        2,
        Utc::now() - chrono::Duration::seconds(30),
        chrono::Duration::seconds(5),
    );
    world
        .okta
        .seed_late_log_events(late.clone(), Duration::from_secs(1));
    window.extend(late);

    let first = run(&config, &aws, Instant::now() + FAR).await.unwrap();
    window.extend(world.activations());
    assert_eq!(first.watch.health, StreamHealth::Reactivated);
    assert_eq!(first.backfill, None, "not read before it settles");
    assert!(first.backfill_waits_until.is_some());
    assert_eq!(first.windows_pending, 1);
    assert!(world.take_inbox().await.is_empty());

    tokio::time::sleep(Duration::from_millis(2_200)).await;
    let second = run(&config, &aws, Instant::now() + FAR).await.unwrap();
    let report = second.backfill.unwrap();
    assert_eq!(
        (report.events, report.windows_left),
        (window.len() as u64, 0),
        "the late events are in: {report:?}"
    );
    let queued = world.take_inbox().await;
    for event in &window {
        assert!(queued.contains_key(&uuid(event)), "{event}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_partner_source_without_its_bus_is_reported_while_okta_still_streams() {
    let mut world = World::start().await;
    let inbox_arn = "arn:aws:sqs:us-east-1:123456789012:okta-relay-inbox";
    world.env.insert("RULE_NAME", "okta-relay".into());
    world.env.insert("RULE_TARGET_ARN", inbox_arn.into());
    let source = SOURCE;
    let eventbridge = world.provision_path(None).await;
    let (config, aws) = (world.config(), world.aws().await);

    let healthy = run(&config, &aws, Instant::now() + FAR).await.unwrap();
    assert_eq!(healthy.watch.health, StreamHealth::Active);
    assert_eq!(healthy.watch.path_problems, Vec::<String>::new());

    // Someone disables the rule, then removes its target.
    eventbridge
        .disable_rule()
        .name("okta-relay")
        .event_bus_name(source)
        .send()
        .await
        .unwrap();
    let disabled = run(&config, &aws, Instant::now() + FAR).await.unwrap();
    assert_eq!(
        disabled.watch.path_problems.len(),
        1,
        "{:?}",
        disabled.watch.path_problems
    );
    assert!(disabled.watch.path_problems[0].contains("is disabled"));
    eventbridge
        .remove_targets()
        .rule("okta-relay")
        .event_bus_name(source)
        .ids("okta-relay")
        .send()
        .await
        .unwrap();
    let untargeted = run(&config, &aws, Instant::now() + FAR).await.unwrap();
    assert!(
        untargeted.watch.path_problems[1].contains("no longer targets the relay"),
        "{:?}",
        untargeted.watch.path_problems
    );
    eventbridge
        .delete_rule()
        .name("okta-relay")
        .event_bus_name(source)
        .send()
        .await
        .unwrap();

    // The bus is deleted behind the stack's back: the source goes back to PENDING, EventBridge
    // drops Okta's events, and Okta still says ACTIVE.
    eventbridge
        .delete_event_bus()
        .name(source)
        .send()
        .await
        .unwrap();
    let broken = run(&config, &aws, Instant::now() + FAR).await.unwrap();
    assert_eq!(broken.watch.health, StreamHealth::Active);
    assert_eq!(world.okta.streams()[0].2, "ACTIVE");
    assert_eq!(
        broken.watch.path_problems.len(),
        2,
        "{:?}",
        broken.watch.path_problems
    );
    assert!(
        broken.watch.path_problems[0].contains("is PENDING"),
        "{:?}",
        broken.watch.path_problems
    );
    assert!(
        broken.watch.path_problems[1].contains("event bus"),
        "{:?}",
        broken.watch.path_problems
    );
    let line: Value = serde_json::from_str(&metric_line("wd", &broken, 1)).unwrap();
    assert_eq!(line["DeliveryPathBroken"], 1);
    let line: Value = serde_json::from_str(&metric_line("wd", &healthy, 1)).unwrap();
    assert_eq!(line["DeliveryPathBroken"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_stack_s_own_path_is_repaired_and_its_outage_backfilled_from_the_last_whole_check() {
    let mut world = World::start().await;
    world.repairs();
    let eventbridge = world.provision_path(Some(STACK)).await;
    let (config, aws) = (world.config(), world.aws().await);
    let healthy = run(&config, &aws, Instant::now() + FAR).await.unwrap();
    assert_eq!(healthy.watch.path_problems, Vec::<String>::new());
    let state = world.state().await;
    let whole_at: chrono::DateTime<Utc> =
        state["path"]["wholeAt"].as_str().unwrap().parse().unwrap();
    assert_eq!(state["gaps"], json!([]));

    // The bus goes: EventBridge drops what Okta streams from now on (the System Log keeps it).
    world.delete_path(&eventbridge).await;
    let seconds = chrono::Duration::seconds;
    let before = system_log::events("before", 2, whole_at - seconds(600), seconds(10));
    // The test runs in seconds: these are inside the 2-minute overlap before the last whole
    // check, which the window covers as it covers the minutes after it.
    let dropped = system_log::events("dropped", 6, whole_at - seconds(100), seconds(15));
    world
        .okta
        .seed_log_events(before.iter().chain(&dropped).cloned());

    let repaired = run(&config, &aws, Instant::now() + FAR).await.unwrap();
    assert_eq!(repaired.watch.health, StreamHealth::Active);
    assert_eq!(
        repaired.watch.path_repaired,
        [
            format!("create event bus {SOURCE}, associated with the partner source"),
            "create rule `okta-relay`".to_string(),
            format!("set target `okta-relay` of rule `okta-relay` to {INBOX_ARN}"),
        ]
    );
    assert_eq!(repaired.watch.path_problems, Vec::<String>::new());
    assert_eq!(
        repaired.watch.partner_event_source_state.as_deref(),
        Some("ACTIVE")
    );
    let line: Value = serde_json::from_str(&metric_line("wd", &repaired, 1)).unwrap();
    assert_eq!(
        line["DeliveryPathBroken"], 1,
        "a repaired outage still raises the alarm"
    );
    assert_eq!(
        okta_relay_e2e::moto::bus_owner(&eventbridge, SOURCE)
            .await
            .unwrap()
            .as_deref(),
        Some(STACK),
        "the new bus is the stack's"
    );
    let targets = eventbridge
        .list_targets_by_rule()
        .rule("okta-relay")
        .event_bus_name(SOURCE)
        .send()
        .await
        .unwrap();
    assert_eq!(targets.targets()[0].arn(), INBOX_ARN);

    // The window (2 minutes before the last whole check to the repair) settled at once here
    // (BACKFILL_SETTLE_SECONDS=0) and was read in the same run.
    let backfill = repaired.backfill.as_ref().expect("the window was read");
    assert_eq!(backfill.windows_left, 0);
    let queued = world.take_inbox().await;
    for event in &dropped {
        assert_eq!(queued.get(&uuid(event)), Some(&1), "{event}");
    }
    for event in &before {
        assert!(
            !queued.contains_key(&uuid(event)),
            "outside the window: {event}"
        );
    }
    let state = world.state().await;
    assert_eq!(state["gaps"], json!([]));
    assert!(state["path"].get("broken").is_none(), "{state}");

    let again = run(&config, &aws, Instant::now() + FAR).await.unwrap();
    assert!(!again.watch.path_was_broken());
    assert!(again.backfill.is_none());
    assert!(world.take_inbox().await.is_empty());
    assert_eq!(world.okta.violations(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn another_stack_s_bus_is_not_repaired_and_the_problem_names_its_owner() {
    let mut world = World::start().await;
    world.repairs();
    let other = "arn:aws:cloudformation:us-east-1:123456789012:stack/first/9";
    let eventbridge = world.provision_path(Some(other)).await;
    eventbridge
        .disable_rule()
        .name("okta-relay")
        .event_bus_name(SOURCE)
        .send()
        .await
        .unwrap();
    let (config, aws) = (world.config(), world.aws().await);
    let checked = run(&config, &aws, Instant::now() + FAR).await.unwrap();
    assert_eq!(checked.watch.path_repaired, Vec::<String>::new());
    assert!(
        checked
            .watch
            .path_problems
            .iter()
            .any(|p| p.contains(&format!("belongs to `{other}`"))),
        "{:?}",
        checked.watch.path_problems
    );
    let rule = eventbridge
        .describe_rule()
        .name("okta-relay")
        .event_bus_name(SOURCE)
        .send()
        .await
        .unwrap();
    assert_eq!(
        rule.state(),
        Some(&aws_sdk_eventbridge::types::RuleState::Disabled),
        "left as its owner has it"
    );
}
