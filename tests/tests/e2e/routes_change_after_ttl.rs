//! Scenario 5: the relay follows a change of the routes parameter once its cache time has passed.

use std::time::Duration;

use okta_relay_e2e::report;

use crate::world::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scenario_5_the_relay_follows_a_routes_change_after_the_ttl() {
    let relay = Relay::start(1, 1).await;
    relay
        .relay_all(&[serde_json::to_vec(&event(3)).unwrap()])
        .await;
    put_parameter(
        &relay.ssm,
        ROUTES_PARAMETER,
        &routes(&relay.workflows, "/everything-v2").to_string(),
        false,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    relay
        .relay_all(&[serde_json::to_vec(&event(4)).unwrap()])
        .await;
    let paths: Vec<String> = relay
        .workflows
        .received()
        .iter()
        .map(|r| r.path.split('?').next().unwrap().to_string())
        .collect();
    report(format!(
        "scenario 5: 2 events sent, {} delivered, 0 dead-lettered, 0 lost, 0 duplicates; paths {paths:?}",
        paths.len()
    ));
    assert_eq!(paths, ["/everything", "/everything-v2"]);
}
