//! Scenario 6: Okta gives up on the target and deactivates the stream; the watchdog binary
//! re-activates it (the deactivation event's actor is Okta itself), and backfills the window from
//! the deactivation event's time, less the 2-minute overlap, once it has settled: events that
//! reach the System Log late are in it. The backfill puts the window in the relay's inbox, so it
//! is delivered paced with the live events; each event reaches its flows once, with
//! de-duplication on.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use okta_relay_e2e::fake_okta::FakeOkta;
use okta_relay_e2e::functions::{FunctionProcess, release_binary};
use okta_relay_e2e::moto::REGION;
use okta_relay_e2e::report;
use okta_relay_e2e::runtime_api::{Outcome, RuntimeApi};
use okta_relay_e2e::system_log;
use serde_json::{Value, json};

use crate::world::*;

/// A System Log event as Okta's partner source streams it to the example org's bus.
fn streamed(event: &Value) -> Vec<u8> {
    relay_core::backfill::as_streamed(
        event.clone(),
        "aws.partner/okta.com/example/okta-relay",
        ACCOUNT,
        REGION,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scenario_6_an_outage_is_reactivated_and_backfilled_once_with_deduplication_on() {
    let relay = Relay::start_with(2, 300, true).await;
    let aws = relay.moto.sdk_config().await;
    put_parameter(&relay.ssm, OKTA_TOKEN_PARAMETER, OKTA_TOKEN, true).await;
    put_parameter(&relay.ssm, BACKFILL_STATE, r#"{"gaps":[]}"#, false).await;
    let okta = FakeOkta::start(OKTA_TOKEN, Some(aws)).await.unwrap();
    let settings = json!({"accountId": ACCOUNT, "eventSourceName": "okta-relay", "region": REGION});
    okta.seed_stream("okta-relay", settings, true);

    // Before the outage the stream delivered 10 events, 3 of them twice (Okta's at-least-once).
    let now = chrono::Utc::now();
    let minutes = chrono::Duration::minutes;
    let seconds = chrono::Duration::seconds;
    let old = system_log::events("old", 4, now - minutes(60), seconds(20));
    let sent = system_log::events("sent", 10, now - minutes(10), seconds(30));
    let gap = system_log::events("gap", 25, now - minutes(5), seconds(10));
    let stream: Vec<Vec<u8>> = sent.iter().chain(&sent[..3]).map(streamed).collect();
    relay.relay_all(&stream).await;
    let before = delivered_once(&relay.workflows);

    // Then the target stopped acknowledging: Okta tried twice and deactivated the stream, a
    // second before the first gap event. The System Log has everything, served 4 a page, 3
    // requests a second, and two of the outage's events show up in it only late.
    let gave_up = now - minutes(5) - seconds(1);
    okta.seed_log_events(old.iter().chain(&sent).chain(&gap).cloned());
    okta.set_log_rate_limit(3, 1);
    okta.okta_gives_up_at("okta-relay", gave_up);
    let late = system_log::events("late", 2, now - minutes(2) - seconds(5), seconds(10));
    okta.seed_late_log_events(late.clone(), Duration::from_secs(1));

    let api = RuntimeApi::start().await.unwrap();
    let mut env = api.lambda_env("okta-relay-watchdog");
    env.extend(aws_env(&relay.moto));
    env.push(("INBOX_QUEUE_URL".into(), relay.inbox_url.clone()));
    env.extend(
        [
            ("OKTA_ORG_URL", "https://example.okta.com".to_string()),
            ("OKTA_API_TOKEN_PARAMETER", OKTA_TOKEN_PARAMETER.to_string()),
            ("OKTA_API_BASE_URL", okta.base_url()),
            ("EVENT_SOURCE_NAME", "okta-relay".into()),
            ("ACCOUNT_ID", ACCOUNT.into()),
            ("BACKFILL_STATE_PARAMETER", BACKFILL_STATE.into()),
            ("BACKFILL_PAGE_SIZE", "4".into()),
            ("BACKFILL_SETTLE_SECONDS", "2".into()),
        ]
        .map(|(k, v)| (k.to_string(), v)),
    );
    let process = FunctionProcess::spawn(&release_binary("watchdog").unwrap(), &env).unwrap();
    let scheduled = json!({"version": "0", "id": "s-1", "detail-type": "Scheduled Event", "source": "aws.scheduler",
                           "account": ACCOUNT, "time": "2026-11-25T10:05:00Z", "region": REGION, "resources": [], "detail": {}});
    let started = Instant::now();
    let mut runs = Vec::new();
    for run in 0..3 {
        if run == 1 {
            // The next scheduled run, once the window has settled.
            tokio::time::sleep(Duration::from_millis(2_200)).await;
        }
        match api
            .invoke(scheduled.to_string(), Duration::from_secs(240))
            .await
        {
            Outcome::Response(body) => runs.push(serde_json::from_slice::<Value>(&body).unwrap()),
            other => panic!("{other:?}: {}", process.log()),
        }
    }
    // The window: from 2 minutes before the deactivation event to the re-activation, which is
    // an event of it too; nothing later is in the System Log.
    let window_start = gave_up - minutes(2);
    let window: Vec<Value> = okta
        .log_events()
        .into_iter()
        .filter(|e| {
            let published: chrono::DateTime<chrono::Utc> =
                e["published"].as_str().unwrap().parse().unwrap();
            published >= window_start
        })
        .collect();
    let streamed_before: Vec<Value> = window
        .iter()
        .filter(|e| sent.contains(e))
        .cloned()
        .collect();
    let relayed_now: Vec<Value> = window
        .iter()
        .filter(|e| !sent.contains(e))
        .cloned()
        .collect();
    assert!(
        late.iter().all(|e| window.contains(e)),
        "the late events are in the System Log by now"
    );

    // The relay delivers what the backfill queued; then the stream resumes, and sends one gap
    // event again.
    relay.drain(DRAIN_TIMEOUT).await;
    let backfill_seconds = started.elapsed().as_secs_f64();
    relay.relay_all(&[streamed(&gap[0])]).await;

    let (first, settled, third) = (&runs[0], &runs[1], &runs[2]);
    assert_eq!(first["watch"]["health"], "reactivated", "{first}");
    assert_eq!(
        first["watch"]["inactiveSinceFrom"], "deactivation_event",
        "{first}"
    );
    assert_eq!(first["backfill"], Value::Null, "not read before it settles");
    assert_eq!(first["windowsPending"], 1, "{first}");
    assert_eq!(okta.streams()[0].2, "ACTIVE");
    assert_eq!(settled["watch"]["health"], "active", "{settled}");
    let backfill = &settled["backfill"];
    let pairs = |events: &[Value]| -> u64 {
        events
            .iter()
            .map(|e| expected_routes(&json!({"detail": e})).len() as u64)
            .sum()
    };
    assert_eq!(backfill["events"], window.len(), "{backfill}");
    assert_eq!(
        backfill["pages"],
        (window.len() as u64).div_ceil(4),
        "{backfill}"
    );
    assert_eq!(backfill["queued"], window.len(), "{backfill}");
    assert_eq!(backfill["windowsLeft"], 0, "{backfill}");
    assert_eq!(
        third["watch"]["health"], "active",
        "the next run finds it streaming"
    );
    assert_eq!(third["backfill"], Value::Null, "nothing left to backfill");

    let after = delivered_once(&relay.workflows);
    let expected: BTreeSet<(String, String)> = sent
        .iter()
        .chain(&relayed_now)
        .flat_map(|e| {
            let uuid = e["uuid"].as_str().unwrap().to_string();
            expected_routes(&json!({"detail": e}))
                .into_iter()
                .map(move |route| (route.to_string(), uuid.clone()))
        })
        .collect();
    assert_eq!(after.keys().cloned().collect::<BTreeSet<_>>(), expected);
    assert_eq!(before.len() as u64, pairs(&sent));
    let log_requests = okta
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/api/v1/logs"))
        .count();
    assert_eq!(
        log_requests as u64,
        1 + (window.len() as u64).div_ceil(4),
        "who deactivated it, then the window's pages"
    );
    assert_eq!(okta.violations(), Vec::<String>::new());
    assert!(relay.dead_letters().await.is_empty());
    let state = aws_adapters::read_parameter(&relay.ssm, BACKFILL_STATE, "state")
        .await
        .unwrap();
    let state: Value = serde_json::from_str(&state).unwrap();
    assert_eq!(state["gaps"], json!([]));
    let log = process.log();
    for outcome in ["stream_reactivated", "backfill_complete"] {
        assert!(
            log.contains(&format!("\"outcome\":\"{outcome}\"")),
            "{outcome}: {log}"
        );
    }
    assert!(log.contains("\"StreamReactivated\":1"), "{log}");
    assert_no_secrets("the watchdog's log", &log);
    let relay_log = relay.logs();
    let duplicates = relay_log.matches("\"outcome\":\"duplicate\"").count() as u64;
    assert_eq!(
        duplicates,
        pairs(&sent[..3]) + pairs(&gap[..1]) + pairs(&streamed_before),
        "the stream's duplicates and the backfill's overlap with what was streamed"
    );
    assert_no_secrets("the relay's log", &relay_log);
    report(format!(
        "scenario 6: Okta gave up on the target and deactivated the stream; watchdog run 1 found \
         Okta's deactivation event and re-activated it, run 2 (once settled) read {} System Log \
         events from 2 min before that event, 2 of them late, in {} pages (4 a page, 3 \
         requests/s) and put {} in the relay's inbox; the relay delivered {} and skipped {} as \
         already streamed, 0 dead-lettered; run 3: {}, nothing pending; {:.1} s to an empty \
         inbox; {} duplicate deliveries skipped in all; each of {} (event, route) pairs reached \
         its flow exactly once",
        backfill["events"],
        backfill["pages"],
        backfill["queued"],
        pairs(&relayed_now),
        pairs(&streamed_before),
        third["watch"]["health"].as_str().unwrap_or_default(),
        backfill_seconds,
        duplicates,
        after.len()
    ));
}
