//! Scenarios 1 and 4: the provisioner sets up the stream, bus, rule and target; events flow to
//! their routes; tearing down removes it all; no secret appears in any log, answer or dead letter.

use okta_relay_e2e::moto::REGION;
use okta_relay_e2e::report;
use serde_json::{Value, json};

use crate::world::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scenario_1_and_4_provision_deliver_tear_down_and_no_secret_leaks() {
    let relay = Relay::start(2, 300).await;
    let (aws, okta, provisioner) = okta_and_provisioner(&relay).await;
    let pattern = json!({"detail": {"eventType": [{"prefix": "user."}, {"prefix": "security."}]}});
    let mut properties = stream_properties(&pattern);
    // The rule's target here is a queue no relay reads: the test plays EventBridge's rule.
    properties["TargetArn"] = json!(format!("arn:aws:sqs:{REGION}:{ACCOUNT}:okta-relay-inbox"));
    let created = provisioner.request("Create", None, &properties).await;
    assert_eq!(created["Status"], "SUCCESS", "{created}");
    let bus = created["Data"]["PartnerEventSource"]
        .as_str()
        .unwrap()
        .to_string();

    // EventBridge's part: the rule on the partner bus decides which events reach the relay.
    let eventbridge = aws_sdk_eventbridge::Client::new(&aws);
    let rule = eventbridge
        .describe_rule()
        .event_bus_name(&bus)
        .name("okta-relay")
        .send()
        .await
        .unwrap();
    let targets = eventbridge
        .list_targets_by_rule()
        .event_bus_name(&bus)
        .rule("okta-relay")
        .send()
        .await
        .unwrap();
    assert_eq!(
        targets.targets()[0].arn(),
        properties["TargetArn"].as_str().unwrap()
    );
    let (mut sent, mut matched) = (0, Vec::new());
    for index in 0..samples().len() {
        let mut event = event(index);
        event["source"] = json!(bus);
        sent += 1;
        let test = eventbridge
            .test_event_pattern()
            .event_pattern(rule.event_pattern().unwrap())
            .event(event.to_string())
            .send()
            .await
            .unwrap();
        if test.result() {
            matched.push(event);
        }
    }
    let payloads: Vec<Vec<u8>> = matched
        .iter()
        .map(|e| serde_json::to_vec(e).unwrap())
        .collect();
    relay.relay_all(&payloads).await;
    let expected: usize = matched.iter().map(|e| expected_routes(e).len()).sum();
    let received = relay.workflows.received();
    assert_eq!(
        received.len(),
        expected,
        "each matched event reached each of its routes once"
    );
    for request in &received {
        let token = match route_of(&request.path) {
            "sessions" => request.header("x-api-client-token").unwrap().to_string(),
            _ => request
                .path
                .split("clientToken=")
                .nth(1)
                .unwrap()
                .to_string(),
        };
        assert!(
            token == SESSIONS_TOKEN || token == EVERYTHING_TOKEN,
            "the endpoint got its client token"
        );
        let payload: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(payload["relay"]["orgHost"], "example.okta.com");
    }

    let deleted = provisioner
        .request(
            "Delete",
            created["PhysicalResourceId"].as_str(),
            &properties,
        )
        .await;
    assert_eq!(deleted["Status"], "SUCCESS", "{deleted}");
    assert!(okta.streams().is_empty(), "the Okta log stream is gone");
    assert!(
        eventbridge
            .describe_event_bus()
            .name(&bus)
            .send()
            .await
            .is_err(),
        "the bus is gone"
    );
    assert_eq!(okta.violations(), Vec::<String>::new());
    // Every outcome line names its invocation and whether it was its container's first.
    let logs = relay.logs();
    let outcomes: Vec<Value> = logs
        .lines()
        .filter(|line| line.contains("\"outcome\""))
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    assert!(!outcomes.is_empty(), "{logs}");
    for line in &outcomes {
        assert!(line["requestId"].is_string(), "{line}");
        assert!(line["coldStart"].is_boolean(), "{line}");
        assert!(
            line["xrayTraceId"].is_string(),
            "the Runtime API's trace id: {line}"
        );
    }
    let cold: std::collections::BTreeSet<&str> = outcomes
        .iter()
        .filter(|line| line["coldStart"] == true)
        .filter_map(|line| line["requestId"].as_str())
        .collect();
    assert!(
        cold.len() <= relay.processes.len(),
        "one cold invocation per container: {cold:?}"
    );
    // PerRouteMetrics: each route's deliveries under a Route dimension, summing to the total.
    let per_route: Vec<Value> = logs
        .lines()
        .filter(|line| line.contains("\"Route\""))
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let routes: std::collections::BTreeSet<&str> = per_route
        .iter()
        .filter_map(|document| document["Route"].as_str())
        .collect();
    assert_eq!(routes, ["everything", "sessions"].into());
    for document in &per_route {
        assert_eq!(
            document["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["FunctionName", "Route"]])
        );
    }
    let routed: u64 = per_route
        .iter()
        .filter_map(|document| document["Delivered"].as_u64())
        .sum();
    assert_eq!(
        routed,
        metric_sum(&logs, "Delivered"),
        "per route = the total"
    );
    let letters = relay.dead_letters().await;
    report(format!(
        "scenario 1: {sent} events sent, {} matched the provisioned rule, {} delivered, {} dead-lettered, 0 lost, 0 duplicates",
        matched.len(),
        received.len(),
        letters.len()
    ));

    // Scenario 4: a full run, and no secret in any log line, error, answer or dead letter.
    let everything = [
        relay.logs(),
        provisioner.process.log(),
        serde_json::to_string(&letters).unwrap(),
        created.to_string(),
        deleted.to_string(),
    ]
    .join("\n");
    for secret in SECRETS {
        assert!(!everything.contains(secret), "a secret leaked");
    }
    report(format!(
        "scenario 4: {} log, answer and dead-letter bytes checked for 3 secrets, 0 found",
        everything.len()
    ));
}
