//! Scenarios 8 to 11: the stream's life as Okta and EventBridge document it, run through the
//! release provisioner and watchdog binaries.
//!
//! - 8: the partner bus is deleted behind the stack's back. EventBridge drops what Okta streams
//!   to a source without a bus while Okta says ACTIVE; the next watchdog run finds it, raises
//!   its metric, re-creates the bus, rule and target, and the gap reaches its flows once.
//! - 9: an administrator deactivates the stream: the watchdog leaves it off, its metric and log
//!   name who and when, and the stack's own update turns it back on.
//! - 10: a replacement at Okta's two-stream limit: the old stream goes first, then the new one is
//!   made; a third stream is refused naming the limit, with nothing made.
//! - 11: a second stack with the default names is refused, naming the first, and its rollback
//!   leaves the first stack's stream, bus and rule as they were.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use okta_relay_e2e::moto::REGION;
use okta_relay_e2e::report;
use okta_relay_e2e::system_log;
use serde_json::{Value, json};

use crate::world::*;

/// The (route, uuid) pairs `events` owe their flows.
fn owed(events: &[Value]) -> BTreeSet<(String, String)> {
    events
        .iter()
        .flat_map(|event| {
            let uuid = event["uuid"].as_str().unwrap().to_string();
            expected_routes(&json!({"detail": event, "source": PARTNER_SOURCE}))
                .into_iter()
                .map(move |route| (route.to_string(), uuid.clone()))
        })
        .collect()
}

fn pattern() -> Value {
    json!({"source": [{"prefix": "aws.partner/okta.com/"}]})
}

/// The watchdog's variables as template.yaml sets them for the stack's stream `stream_id`.
fn repair_env(stream_id: &str) -> Vec<(&'static str, String)> {
    let properties = stream_properties(&pattern());
    vec![
        ("RULE_NAME", "okta-relay".into()),
        (
            "RULE_TARGET_ARN",
            properties["TargetArn"].as_str().unwrap().into(),
        ),
        (
            "DEAD_LETTER_QUEUE_ARN",
            properties["DeadLetterQueueArn"].as_str().unwrap().into(),
        ),
        ("EVENT_PATTERN", pattern().to_string()),
        ("LOG_STREAM_NAME", "okta-relay".into()),
        ("LOG_STREAM_ID", stream_id.into()),
        ("STACK_ID", STACK_ID.into()),
        ("BACKFILL_SETTLE_SECONDS", "2".into()),
        ("BACKFILL_PAGE_SIZE", "10".into()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scenario_8_a_bus_deleted_behind_the_stack_s_back_is_repaired_and_its_gap_backfilled_once()
{
    let relay = Relay::start_with(2, 300, true).await;
    let (aws, okta, provisioner) = okta_and_provisioner(&relay).await;
    put_parameter(&relay.ssm, BACKFILL_STATE, r#"{"gaps":[]}"#, false).await;
    let created = provisioner
        .request("Create", None, &stream_properties(&pattern()))
        .await;
    assert_eq!(created["Status"], "SUCCESS", "{created}");
    let stream_id = created["PhysicalResourceId"].as_str().unwrap().to_string();
    let watchdog = Watchdog::start(&relay, &okta, &repair_env(&stream_id)).await;
    let whole = watchdog.run().await;
    assert_eq!(whole["watch"]["health"], "active", "{whole}");
    assert!(whole["watch"]["pathProblems"].is_null(), "{whole}");

    // Okta streams; every event also lands in the System Log, Okta's own record.
    let now = chrono::Utc::now;
    let ms = chrono::Duration::milliseconds;
    let before = system_log::events("before", 8, now() - ms(4_000), ms(200));
    okta.seed_log_events(before.iter().cloned());
    assert_eq!(
        okta_streams(&relay, PARTNER_SOURCE, "okta-relay", &before).await,
        0
    );
    relay.drain(DRAIN_TIMEOUT).await;

    // Someone deletes the rule and the bus in the console; the source goes back to PENDING and
    // EventBridge drops what Okta sends while Okta's stream stays ACTIVE.
    let eventbridge = aws_sdk_eventbridge::Client::new(&aws);
    okta_relay_e2e::moto::delete_partner_path(&eventbridge, PARTNER_SOURCE, "okta-relay")
        .await
        .unwrap();
    let gap = system_log::events("gap", 20, now() - ms(2_000), ms(50));
    okta.seed_log_events(gap.iter().cloned());
    let dropped = okta_streams(&relay, PARTNER_SOURCE, "okta-relay", &gap).await;
    assert_eq!(dropped, gap.len(), "EventBridge drops them");
    assert_eq!(okta.streams()[0].2, "ACTIVE", "while Okta says ACTIVE");

    let started = Instant::now();
    let repaired = watchdog.run().await;
    let after = system_log::events("after", 6, now(), ms(1));
    okta.seed_log_events(after.iter().cloned());
    assert_eq!(
        okta_streams(&relay, PARTNER_SOURCE, "okta-relay", &after).await,
        0
    );
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    let backfilled = watchdog.run().await;
    relay.drain(DRAIN_TIMEOUT).await;
    let seconds = started.elapsed().as_secs_f64();

    let changes = repaired["watch"]["pathRepaired"].as_array().unwrap();
    assert_eq!(changes.len(), 3, "bus, rule, target: {repaired}");
    assert!(repaired["watch"]["pathProblems"].is_null(), "{repaired}");
    assert_eq!(repaired["windowsPending"], 1, "{repaired}");
    let backfill = &backfilled["backfill"];
    assert_eq!(backfill["windowsLeft"], 0, "{backfilled}");
    let log = watchdog.process.log();
    for outcome in [
        "delivery_path_repaired",
        "path_outage_window",
        "backfill_complete",
    ] {
        assert!(
            log.contains(&format!("\"outcome\":\"{outcome}\"")),
            "{outcome}: {log}"
        );
    }
    assert_eq!(
        metric_sum(&log, "DeliveryPathBroken"),
        1,
        "one run found it broken"
    );
    assert_no_secrets("the watchdog's log", &log);
    assert_eq!(
        okta_relay_e2e::moto::bus_owner(&eventbridge, PARTNER_SOURCE)
            .await
            .unwrap()
            .as_deref(),
        Some(STACK_ID)
    );

    let everything: Vec<Value> = before.iter().chain(&gap).chain(&after).cloned().collect();
    let delivered = delivered_once(&relay.workflows);
    let pairs: BTreeSet<_> = delivered.keys().cloned().collect();
    let missing: Vec<_> = owed(&everything).difference(&pairs).cloned().collect();
    assert!(missing.is_empty(), "never delivered: {missing:?}");
    // Besides, the window holds the stream's own lifecycle events, which the rule matches too.
    let logged = owed(&okta.log_events());
    let unknown: Vec<_> = pairs.difference(&logged).collect();
    assert!(unknown.is_empty(), "not Okta's events: {unknown:?}");
    assert!(relay.dead_letters().await.is_empty());
    assert_eq!(okta.violations(), Vec::<String>::new());
    report(format!(
        "scenario 8: the partner bus was deleted behind the stack's back; EventBridge dropped {} \
         of Okta's events while Okta said ACTIVE; the next watchdog run raised DeliveryPathBroken, \
         re-created the bus, rule and target for its stack and recorded the window from 2 min \
         before the last whole check; once settled it read {} System Log events back ({} queued); \
         {:.1} s from the repair to an empty inbox; each of {} (event, route) pairs reached its \
         flow exactly once, 0 dead-lettered",
        dropped,
        backfill["events"],
        backfill["queued"],
        seconds,
        delivered.len()
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scenario_9_an_admin_s_deactivation_stands_until_the_stack_s_update() {
    let relay = Relay::start(1, 300).await;
    let (_, okta, provisioner) = okta_and_provisioner(&relay).await;
    put_parameter(&relay.ssm, BACKFILL_STATE, r#"{"gaps":[]}"#, false).await;
    let properties = stream_properties(&pattern());
    let created = provisioner.request("Create", None, &properties).await;
    assert_eq!(created["Status"], "SUCCESS", "{created}");
    let stream_id = created["PhysicalResourceId"].as_str().unwrap().to_string();
    let watchdog = Watchdog::start(&relay, &okta, &repair_env(&stream_id)).await;

    let at = chrono::Utc::now() - chrono::Duration::seconds(30);
    okta.admin_deactivates("okta-relay", "it-admin@example.com", at);
    let first = watchdog.run().await;
    let second = watchdog.run().await;
    for run in [&first, &second] {
        assert_eq!(run["watch"]["health"], "deactivated_by_person", "{run}");
    }
    assert_eq!(okta.streams()[0].2, "INACTIVE", "left off");
    let log = watchdog.process.log();
    assert_eq!(metric_sum(&log, "StreamDeactivatedByPerson"), 2);
    assert_eq!(metric_sum(&log, "StreamReactivated"), 0);
    let named = log
        .lines()
        .find(|line| line.contains("\"outcome\":\"stream_deactivated_by_person\""))
        .unwrap_or_default();
    assert!(named.contains("it-admin@example.com"), "{log}");
    let when = at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    assert!(named.contains(&when), "{when}: {named}");

    // The stack's own update turns it back on.
    let updated = provisioner
        .request_from(
            STACK_ID,
            "Update",
            Some(&stream_id),
            &properties,
            Some(&properties),
        )
        .await;
    assert_eq!(updated["Status"], "SUCCESS", "{updated}");
    assert_eq!(okta.streams()[0].2, "ACTIVE");
    let third = watchdog.run().await;
    assert_eq!(third["watch"]["health"], "active", "{third}");
    assert_eq!(okta.violations(), Vec::<String>::new());
    report(format!(
        "scenario 9: an admin deactivated the stream; 2 watchdog runs left it INACTIVE, each \
         raising StreamDeactivatedByPerson with it-admin@example.com and {when}; the stack's \
         update re-activated it and the next run found it {}",
        third["watch"]["health"].as_str().unwrap_or_default()
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scenario_10_a_replacement_at_the_two_stream_limit_goes_old_first_and_a_third_is_refused() {
    let relay = Relay::start(1, 300).await;
    let (aws, okta, provisioner) = okta_and_provisioner(&relay).await;
    let splunk = okta.seed_splunk_stream("siem");
    let old = stream_properties(&pattern());
    let created = provisioner.request("Create", None, &old).await;
    assert_eq!(created["Status"], "SUCCESS", "{created}");
    let old_id = created["PhysicalResourceId"].as_str().unwrap().to_string();
    assert_eq!(okta.streams().len(), 2, "the org is at Okta's limit");

    // A third stream, from another stack: refused before anything is made.
    let mut third = stream_properties(&pattern());
    third["EventSourceName"] = json!("third");
    third["LogStreamName"] = json!("third");
    let other = "arn:aws:cloudformation:us-east-1:123456789012:stack/third/3";
    let refused = provisioner
        .request_from(other, "Create", None, &third, None)
        .await;
    assert_eq!(refused["Status"], "FAILED", "{refused}");
    let reason = refused["Reason"].as_str().unwrap();
    assert!(
        reason.contains("Okta allows two log streams per org")
            && reason.contains("`siem`")
            && reason.contains("nothing was changed"),
        "{reason}"
    );
    assert_eq!(okta.streams().len(), 2);

    // The stack's EventSourceName changes: a new stream, the old one deleted first.
    let mut new = old.clone();
    new["EventSourceName"] = json!("okta-relay-2");
    let replaced = provisioner
        .request_from(STACK_ID, "Update", Some(&old_id), &new, Some(&old))
        .await;
    assert_eq!(replaced["Status"], "SUCCESS", "{replaced}");
    let new_id = replaced["PhysicalResourceId"].as_str().unwrap().to_string();
    assert_ne!(
        new_id, old_id,
        "a new physical id: CloudFormation deletes the old resource"
    );
    // CloudFormation's cleanup: Delete with the old properties and id.
    let cleaned = provisioner
        .request_from(STACK_ID, "Delete", Some(&old_id), &old, None)
        .await;
    assert_eq!(cleaned["Status"], "SUCCESS", "{cleaned}");
    let ids: BTreeSet<String> = okta.streams().into_iter().map(|s| s.0).collect();
    assert_eq!(ids, BTreeSet::from([splunk, new_id.clone()]));
    let eventbridge = aws_sdk_eventbridge::Client::new(&aws);
    assert!(
        eventbridge
            .describe_event_bus()
            .name(PARTNER_SOURCE)
            .send()
            .await
            .is_err(),
        "the old bus is gone"
    );
    let new_bus = "aws.partner/okta.com/example/okta-relay-2";
    let rule = eventbridge
        .describe_rule()
        .event_bus_name(new_bus)
        .name("okta-relay")
        .send()
        .await
        .unwrap();
    assert_eq!(
        rule.state(),
        Some(&aws_sdk_eventbridge::types::RuleState::Enabled)
    );
    assert_eq!(okta.violations(), Vec::<String>::new());
    report(format!(
        "scenario 10: at Okta's two-stream limit (a Splunk stream and ours), a third stream was \
         refused naming the limit with nothing made; a changed EventSourceName deleted the old \
         stream first, made {new_id} with its bus and rule, and CloudFormation's Delete of the \
         old resource removed the old bus; the org holds 2 streams"
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scenario_11_a_second_stack_with_the_default_names_is_refused_and_its_rollback_touches_nothing()
 {
    let relay = Relay::start(1, 300).await;
    let (aws, okta, provisioner) = okta_and_provisioner(&relay).await;
    let properties = stream_properties(&pattern());
    let first = provisioner.request("Create", None, &properties).await;
    assert_eq!(first["Status"], "SUCCESS", "{first}");

    let second_stack = "arn:aws:cloudformation:us-east-1:123456789012:stack/okta-relay-copy/2";
    let mut second = properties.clone();
    second["TargetArn"] = json!(format!("arn:aws:sqs:{REGION}:{ACCOUNT}:copy-inbox"));
    let refused = provisioner
        .request_from(second_stack, "Create", None, &second, None)
        .await;
    assert_eq!(refused["Status"], "FAILED", "{refused}");
    let reason = refused["Reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!("already belong to `{STACK_ID}`"))
            && reason.contains("AdoptExisting=true"),
        "{reason}"
    );
    // CloudFormation rolls the second stack back with a Delete of what its Create answered.
    let rollback = provisioner
        .request_from(
            second_stack,
            "Delete",
            refused["PhysicalResourceId"].as_str(),
            &second,
            None,
        )
        .await;
    assert_eq!(rollback["Status"], "SUCCESS", "{rollback}");

    assert_eq!(okta.streams().len(), 1);
    assert_eq!(okta.streams()[0].2, "ACTIVE");
    let eventbridge = aws_sdk_eventbridge::Client::new(&aws);
    let targets = eventbridge
        .list_targets_by_rule()
        .event_bus_name(PARTNER_SOURCE)
        .rule("okta-relay")
        .send()
        .await
        .unwrap();
    assert_eq!(
        targets.targets()[0].arn(),
        properties["TargetArn"].as_str().unwrap(),
        "the first stack's rule still targets its inbox"
    );
    assert_eq!(okta.violations(), Vec::<String>::new());
    let log = provisioner.process.log();
    assert!(log.contains("leave Okta log stream"), "{log}");
    report(format!(
        "scenario 11: a second stack with the default names was refused, naming the first \
         ({STACK_ID}); its rollback left the first stack's stream ACTIVE and its rule targeting \
         its own inbox"
    ));
}
