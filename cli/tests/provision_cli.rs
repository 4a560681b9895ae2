#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

//! `okta-relay provision` as an operator runs it: the binary against moto and the fake Okta.

use std::process::Command;

use okta_relay_e2e::fake_okta::FakeOkta;
use okta_relay_e2e::moto::MotoServer;
use serde_json::json;

const TOKEN: &str = "00cli-okta-token-not-for-output";

struct Cli {
    moto: MotoServer,
    okta: FakeOkta,
    dir: tempfile::TempDir,
}

impl Cli {
    async fn start() -> Self {
        let moto = MotoServer::start().unwrap();
        let okta = FakeOkta::start(TOKEN, Some(moto.sdk_config().await))
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let config = json!({
            "OrgUrl": "https://example.okta.com",
            "EventPattern": {"detail": {"eventType": [{"prefix": "user.session."}]}},
            "TargetArn": "arn:aws:sqs:us-east-1:123456789012:okta-relay-inbox",
            "PartnerSourceWaitSeconds": 10
        });
        std::fs::write(dir.path().join("okta-relay.json"), config.to_string()).unwrap();
        Self { moto, okta, dir }
    }

    async fn run(&self, args: &[&str]) -> (i32, String) {
        let mut command = Command::new(env!("CARGO_BIN_EXE_okta-relay"));
        command
            .arg("provision")
            .args(args)
            .arg("--config")
            .arg(self.dir.path().join("okta-relay.json"))
            .env("OKTA_API_TOKEN", TOKEN)
            .env("OKTA_API_BASE_URL", self.okta.base_url())
            .envs(self.moto.process_env());
        let ran = okta_relay_e2e::command::run(command, &[TOKEN])
            .await
            .unwrap();
        (ran.code, ran.text())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_apply_status_destroy() {
    let cli = Cli::start().await;

    let (code, plan) = cli.run(&["plan"]).await;
    assert_eq!(code, 0, "{plan}");
    assert!(
        plan.starts_with("apply would make 5 change(s):\n  1. create Okta log stream `okta-relay`"),
        "{plan}"
    );
    assert!(cli.okta.streams().is_empty(), "plan changes nothing");

    let (code, applied) = cli.run(&["apply"]).await;
    assert_eq!(code, 0, "{applied}");
    assert!(applied.starts_with("made 5 change(s):"), "{applied}");
    let id = cli.okta.streams()[0].0.clone();
    assert!(
        applied.contains(&id) && applied.contains("RuleArn"),
        "{applied}"
    );

    let (code, status) = cli.run(&["status"]).await;
    assert_eq!(code, 0, "{status}");
    assert!(
        status.contains("healthy: Okta streams to the bus"),
        "{status}"
    );
    let (_, planned_again) = cli.run(&["plan"]).await;
    assert!(
        planned_again.starts_with("apply would change nothing"),
        "{planned_again}"
    );

    cli.okta.deactivate_out_of_band("okta-relay");
    let (code, status) = cli.run(&["status", "--output", "json"]).await;
    assert_eq!(code, 1, "{status}");
    let report: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(report["logStreamStatus"], "INACTIVE");
    assert!(
        report["problems"][0]
            .as_str()
            .unwrap()
            .starts_with("Okta has deactivated log stream"),
        "{report}"
    );

    let (code, refused) = cli.run(&["destroy"]).await;
    assert_eq!(code, 2, "{refused}");
    assert!(refused.contains("run again with --yes"), "{refused}");
    assert_eq!(cli.okta.streams().len(), 1);

    let (code, destroyed) = cli.run(&["destroy", "--yes"]).await;
    assert_eq!(code, 0, "{destroyed}");
    assert!(destroyed.starts_with("made 4 change(s)"), "{destroyed}");
    assert!(cli.okta.streams().is_empty());
    assert_eq!(cli.okta.violations(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_inputs_and_okta_refusals_are_explained() {
    let cli = Cli::start().await;
    let (code, output) = cli.run(&["plan", "--account-id", "12"]).await;
    assert_eq!(code, 1);
    assert!(
        output.contains("AWS account id `12` must be exactly 12 digits"),
        "{output}"
    );
    let (code, output) = cli
        .run(&["apply", "--event-pattern", "{\"detail\": 5}"])
        .await;
    assert_eq!(code, 1);
    assert!(
        output.contains("EventPattern is not a valid EventBridge pattern"),
        "{output}"
    );
    cli.okta.inject(okta_relay_e2e::fake_okta::Fault::status(
        "createLogStream",
        403,
        1,
    ));
    let (code, output) = cli.run(&["apply"]).await;
    assert_eq!(code, 1);
    assert!(output.contains("lacks okta.logStreams.manage"), "{output}");
}
