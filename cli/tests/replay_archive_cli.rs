#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

//! `okta-relay replay-archive` against moto's EventBridge (with `tools/moto_server.py`'s replay
//! fix): a partner bus with an archive and the rule to an inbox queue; events in and out of the
//! window; only the window's events reach the inbox again, marked with the replay's name, and
//! only through the rule the replay names.

use std::process::Command;

use aws_sdk_eventbridge::types::{PutEventsRequestEntry, Target};
use chrono::{Duration, Utc};
use okta_relay_e2e::moto::MotoServer;
use serde_json::{Value, json};

const SOURCE: &str = "aws.partner/okta.com/example/okta-relay";

#[tokio::test(flavor = "multi_thread")]
async fn a_window_of_the_archive_goes_to_the_rule_to_the_inbox_and_nowhere_else() {
    let moto = MotoServer::start().unwrap();
    let aws = moto.sdk_config().await;
    let eventbridge = aws_sdk_eventbridge::Client::new(&aws);
    eventbridge
        .create_partner_event_source()
        .name(SOURCE)
        .account("123456789012")
        .send()
        .await
        .unwrap();
    let bus = eventbridge
        .create_event_bus()
        .name(SOURCE)
        .event_source_name(SOURCE)
        .send()
        .await
        .unwrap()
        .event_bus_arn()
        .unwrap()
        .to_string();
    let inbox = okta_relay_e2e::moto::create_queue(&aws, "inbox")
        .await
        .unwrap();
    let other = okta_relay_e2e::moto::create_queue(&aws, "other")
        .await
        .unwrap();
    let mut rules = Vec::new();
    for (rule, queue) in [("okta-relay", "inbox"), ("someone-else", "other")] {
        let arn = eventbridge
            .put_rule()
            .name(rule)
            .event_bus_name(SOURCE)
            .event_pattern(json!({"source": [{"prefix": "aws.partner/okta.com"}]}).to_string())
            .send()
            .await
            .unwrap()
            .rule_arn()
            .unwrap()
            .to_string();
        rules.push(arn);
        let target = Target::builder()
            .id(rule)
            .arn(format!("arn:aws:sqs:us-east-1:123456789012:{queue}"))
            .build()
            .unwrap();
        eventbridge
            .put_targets()
            .rule(rule)
            .event_bus_name(SOURCE)
            .targets(target)
            .send()
            .await
            .unwrap();
    }
    let archive = eventbridge
        .create_archive()
        .archive_name("okta-relay-archive")
        .event_source_arn(&bus)
        .retention_days(7)
        .send()
        .await
        .unwrap()
        .archive_arn()
        .unwrap()
        .to_string();

    // Three hours of events, one an hour; the window holds the middle one.
    let now = Utc::now();
    for hours_ago in [3, 2, 1] {
        let time = now - Duration::hours(hours_ago);
        let entry = PutEventsRequestEntry::builder()
            .event_bus_name(SOURCE)
            .source(SOURCE)
            .detail_type("SystemLog")
            .time(aws_sdk_eventbridge::primitives::DateTime::from_millis(
                time.timestamp_millis(),
            ))
            .detail(
                json!({"uuid": format!("u-{hours_ago}h"), "eventType": "user.session.start"})
                    .to_string(),
            )
            .build();
        eventbridge
            .put_events()
            .entries(entry)
            .send()
            .await
            .unwrap();
    }
    // What the stream delivered live is not the test's concern: empty both queues.
    okta_relay_e2e::moto::drain_queue(&aws, &inbox)
        .await
        .unwrap();
    okta_relay_e2e::moto::drain_queue(&aws, &other)
        .await
        .unwrap();

    let since = (now - Duration::minutes(150)).to_rfc3339();
    let until = (now - Duration::minutes(90)).to_rfc3339();
    let mut command = Command::new(env!("CARGO_BIN_EXE_okta-relay"));
    command
        .args(["replay-archive", "--since", &since, "--until", &until])
        .args([
            "--archive-arn",
            &archive,
            "--event-bus-arn",
            &bus,
            "--rule-arn",
            &rules[0],
        ])
        .args([
            "--name",
            "window-1",
            "--poll-seconds",
            "1",
            "--output",
            "json",
        ])
        .envs(moto.process_env());
    let ran = okta_relay_e2e::command::run(command, &[]).await.unwrap();
    assert_eq!(ran.code, 0, "{}", ran.text());
    let outcome: Value = serde_json::from_str(ran.text().trim()).unwrap();
    assert_eq!(outcome["state"], "COMPLETED", "{outcome}");

    let replayed: Vec<Value> = okta_relay_e2e::moto::drain_queue(&aws, &inbox)
        .await
        .unwrap()
        .iter()
        .map(|body| serde_json::from_str(body).unwrap())
        .collect();
    assert_eq!(replayed.len(), 1, "{replayed:?}");
    assert_eq!(replayed[0]["detail"]["uuid"], "u-2h");
    assert_eq!(replayed[0]["replay-name"], "window-1");
    assert_eq!(
        okta_relay_e2e::moto::drain_queue(&aws, &other)
            .await
            .unwrap(),
        Vec::<String>::new(),
        "a rule the replay does not name gets nothing"
    );

    let mut command = Command::new(env!("CARGO_BIN_EXE_okta-relay"));
    command
        .args(["replay-archive", "--since", &since, "--until", &until])
        .envs(moto.process_env());
    let ran = okta_relay_e2e::command::run(command, &[]).await.unwrap();
    assert_eq!(ran.code, 1);
    assert!(
        ran.text().contains(
            "--archive-arn is required, or --stack NAME (which reads the stack's ArchiveArn output)"
        ),
        "{}",
        ran.text()
    );
}
