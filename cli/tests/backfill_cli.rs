#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

//! `okta-relay backfill` against the fake Okta's System Log (pagination, rate limit, checked
//! against Okta's contract): the window's events reach their routes once each, oldest first, or
//! the stack's inbox (moto's SQS) once each.

use std::process::Command;

use okta_relay_e2e::fake_okta::FakeOkta;
use okta_relay_e2e::workflows::WorkflowsEndpoint;
use serde_json::{Value, json};

const OKTA_TOKEN: &str = "00backfill-okta-token";
const CLIENT_TOKEN: &str = "wf-backfill-client-token";

fn events() -> Vec<Value> {
    let start = "2026-11-25T09:00:00Z".parse().unwrap();
    let mut events =
        okta_relay_e2e::system_log::events("gap", 12, start, chrono::Duration::minutes(5));
    for (index, event) in events.iter_mut().enumerate() {
        event["uuid"] = json!(format!("gap-{index:02}"));
        event["eventType"] = json!(if index % 2 == 0 {
            "user.session.start"
        } else {
            "user.account.lock"
        });
    }
    events
}

async fn backfill(
    okta: &FakeOkta,
    workflows: &WorkflowsEndpoint,
    dir: &tempfile::TempDir,
    extra: &[&str],
) -> (i32, String, String) {
    backfill_with(okta, workflows, dir, extra, &[]).await
}

async fn backfill_with(
    okta: &FakeOkta,
    workflows: &WorkflowsEndpoint,
    dir: &tempfile::TempDir,
    extra: &[&str],
    env: &[(String, String)],
) -> (i32, String, String) {
    let routes = json!({"version": 1, "routes": [{
        "name": "sessions", "pattern": {"source": ["aws.partner/okta.com/example/okta-relay"], "detail": {"eventType": ["user.session.start"]}},
        "endpoint": workflows.url("/sessions"), "auth": {"scheme": "header", "tokenEnv": "BACKFILL_CLIENT_TOKEN"}
    }]});
    let routes_file = dir.path().join("routes.json");
    std::fs::write(&routes_file, routes.to_string()).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_okta-relay"));
    command
        .args([
            "backfill",
            "--org-url",
            "https://example.okta.com",
            "--allow-http-localhost",
            "--page-size",
            "2",
        ])
        .args([
            "--since",
            "2026-11-25T09:10:00Z",
            "--until",
            "2026-11-25T09:45:00Z",
        ])
        .arg("--routes")
        .arg(&routes_file)
        .arg("--dead-letters")
        .arg(dir.path().join("dead-letters.jsonl"))
        .args(extra)
        .env("OKTA_API_TOKEN", OKTA_TOKEN)
        .env("OKTA_API_BASE_URL", okta.base_url())
        .env("BACKFILL_CLIENT_TOKEN", CLIENT_TOKEN)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "unused")
        .env("AWS_SECRET_ACCESS_KEY", "unused")
        .envs(env.iter().cloned());
    let ran = okta_relay_e2e::command::run(command, &[OKTA_TOKEN, CLIENT_TOKEN])
        .await
        .unwrap();
    (ran.code, ran.stdout, ran.stderr)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_window_reaches_its_routes_once_each_oldest_first() {
    let okta = FakeOkta::start(OKTA_TOKEN, None).await.unwrap();
    okta.seed_log_events(events());
    okta.set_log_rate_limit(2, 1);
    let workflows = WorkflowsEndpoint::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();

    let (code, planned, stderr) = backfill(&okta, &workflows, &dir, &["--dry-run"]).await;
    assert_eq!(code, 0, "{planned}{stderr}");
    assert!(
        stderr.contains("7 System Log events published from 2026-11-25T09:10:00+00:00"),
        "{stderr}"
    );
    assert_eq!(
        planned.lines().count(),
        4,
        "gap-02, 04, 06, 08 are session starts in the window: {planned}"
    );
    assert!(workflows.received().is_empty(), "a dry run sends nothing");

    let (code, summary, stderr) = backfill(&okta, &workflows, &dir, &[]).await;
    assert_eq!(code, 0, "{summary}{stderr}");
    let delivered: Vec<String> = workflows
        .received()
        .iter()
        .map(|r| r.header("idempotency-key").unwrap().to_string())
        .collect();
    assert_eq!(delivered, ["gap-02", "gap-04", "gap-06", "gap-08"]);
    assert!(
        workflows
            .received()
            .iter()
            .all(|r| r.header("x-api-client-token") == Some(CLIENT_TOKEN))
    );
    let statuses: Vec<u16> = okta.requests().iter().map(|r| r.status).collect();
    assert!(
        statuses.iter().all(|s| *s == 200),
        "the rate limit was waited out, never hit: {statuses:?}"
    );
    assert_eq!(okta.violations(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn with_an_inbox_the_window_is_queued_for_the_relay_and_nothing_is_delivered_here() {
    let moto = okta_relay_e2e::moto::MotoServer::start().unwrap();
    let aws = moto.sdk_config().await;
    let inbox = okta_relay_e2e::moto::create_queue(&aws, "inbox")
        .await
        .unwrap();
    let okta = FakeOkta::start(OKTA_TOKEN, None).await.unwrap();
    okta.seed_log_events(events());
    let workflows = WorkflowsEndpoint::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();

    let (code, summary, stderr) = backfill_with(
        &okta,
        &workflows,
        &dir,
        &["--inbox-queue-url", &inbox],
        &moto.process_env(),
    )
    .await;
    assert_eq!(code, 0, "{summary}{stderr}");
    assert!(stderr.contains("7 events put in the inbox"), "{stderr}");
    assert!(
        workflows.received().is_empty(),
        "the relay delivers, not the CLI"
    );
    let mut queued: Vec<String> = okta_relay_e2e::moto::drain_queue(&aws, &inbox)
        .await
        .unwrap()
        .iter()
        .map(|body| {
            let event: Value = serde_json::from_str(body).unwrap();
            assert_eq!(event["source"], "aws.partner/okta.com/example/okta-relay");
            event["detail"]["uuid"].as_str().unwrap().to_string()
        })
        .collect();
    queued.sort();
    assert_eq!(
        queued,
        [
            "gap-02", "gap-03", "gap-04", "gap-05", "gap-06", "gap-07", "gap-08"
        ],
        "every event of the window once; the relay's routes choose what to deliver"
    );
}
