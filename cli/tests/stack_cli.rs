#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

//! `--stack NAME` against a stack in moto's CloudFormation
//! (`okta_relay_e2e::moto::create_okta_relay_stack`, template.yaml's parameter and output names): the commands read queue URLs,
//! ARNs, parameter names and the owner from it instead of flags.

use std::process::Command;

use okta_relay_e2e::fake_okta::FakeOkta;
use okta_relay_e2e::moto::MotoServer;
use serde_json::json;

const TOKEN: &str = "00stack-okta-token-not-for-output";
const STACK: &str = "okta-relay-prod";

struct World {
    moto: MotoServer,
    okta: FakeOkta,
    stack_id: String,
}

impl World {
    async fn start() -> Self {
        let moto = MotoServer::start().unwrap();
        let aws = moto.sdk_config().await;
        let okta = FakeOkta::start(TOKEN, Some(aws.clone())).await.unwrap();
        let stack_id = okta_relay_e2e::moto::create_okta_relay_stack(&aws, STACK)
            .await
            .unwrap();
        let ssm = aws_sdk_ssm::Client::new(&aws);
        okta_relay_e2e::moto::put_parameter(&ssm, "/okta-relay/okta-api-token", TOKEN, true)
            .await
            .unwrap();
        let routes = json!({"version": 1, "routes": [
            {"name": "sessions", "pattern": {"detail": {"eventType": [{"prefix": "user.session."}]}},
             "endpoint": "https://example.workflows.okta.com/api/flo/abc/invoke",
             "auth": {"scheme": "header", "tokenParameter": "/okta-relay/workflows/sessions"}}]});
        okta_relay_e2e::moto::put_parameter(&ssm, "/okta-relay/routes", &routes.to_string(), false)
            .await
            .unwrap();
        Self {
            moto,
            okta,
            stack_id,
        }
    }

    async fn run(&self, args: &[&str]) -> (i32, String) {
        let mut command = Command::new(env!("CARGO_BIN_EXE_okta-relay"));
        command
            .args(args)
            .env_remove("OKTA_API_TOKEN")
            .env("OKTA_API_BASE_URL", self.okta.base_url())
            .envs(self.moto.process_env());
        let ran = okta_relay_e2e::command::run(command, &[TOKEN])
            .await
            .unwrap();
        (ran.code, ran.text())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn provision_reads_the_stack_s_parameters_and_outputs_and_acts_as_the_stack() {
    let world = World::start().await;
    let (code, plan) = world.run(&["provision", "plan", "--stack", STACK]).await;
    assert_eq!(code, 0, "{plan}");
    assert!(
        plan.contains("set target `okta-relay` of rule `okta-relay` to arn:aws:sqs:us-east-1:123456789012:okta-relay-prod-inbox"),
        "the stack's inbox, from its InboxQueueArn output: {plan}"
    );
    let (code, applied) = world.run(&["provision", "apply", "--stack", STACK]).await;
    assert_eq!(code, 0, "{applied}");
    let (code, status) = world
        .run(&["provision", "status", "--stack", STACK, "--output", "json"])
        .await;
    assert_eq!(code, 0, "{status}");
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(
        status["owner"],
        world.stack_id.as_str(),
        "owned by the stack, not the CLI"
    );
    assert!(
        status["targets"][0]
            .as_str()
            .unwrap()
            .ends_with("arn:aws:sqs:us-east-1:123456789012:okta-relay-prod-inbox"),
        "{status}"
    );
    assert_eq!(world.okta.violations(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn redrive_finds_the_stack_s_queues_and_routes_and_says_what_is_missing_without_it() {
    let world = World::start().await;
    let (code, drained) = world.run(&["redrive", "--stack", STACK, "--dry-run"]).await;
    assert_eq!(code, 0, "{drained}");
    let (code, missing) = world
        .run(&["redrive", "--routes-parameter", "/okta-relay/routes"])
        .await;
    assert_eq!(code, 1, "{missing}");
    assert!(
        missing.contains(
            "--queue-url is required, or --stack NAME (which reads the stack's RelayDeadLetterQueueUrl output)"
        ),
        "{missing}"
    );
    let (code, unknown) = world.run(&["redrive", "--stack", "no-such-stack"]).await;
    assert_ne!(code, 0, "{unknown}");
    assert!(
        unknown.contains("cannot describe stack no-such-stack"),
        "{unknown}"
    );
}
