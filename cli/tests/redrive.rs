#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

//! Redrive against moto's SQS and SSM, from `okta-relay redrive` and from the release redrive
//! Lambda (both drain through `relay_core::redrive::drain`): what the release relay dead-lettered
//! while a flow refused its token, and an event the inbox's redrive policy moved, go back to the
//! inbox once the cause is fixed; the relay (behind Lambda's event source mapping, played as
//! Lambda documents it) delivers them, and the queue ends empty but for what a person must read.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use okta_relay_e2e::event_source_mapping::{EventSourceMapping, MappingSettings};
use okta_relay_e2e::functions::{FunctionProcess, release_binary};
use okta_relay_e2e::moto::MotoServer;
use okta_relay_e2e::runtime_api::{Outcome, RuntimeApi};
use okta_relay_e2e::workflows::{Answer, WorkflowsEndpoint};
use serde_json::{Value, json};

const TOKEN: &str = "wf-redrive-client-token-51b0";
const RELAY_TIMEOUT: Duration = Duration::from_secs(120);

/// The stack's queues and the relay consuming its inbox.
struct Stack {
    moto: MotoServer,
    sqs: aws_sdk_sqs::Client,
    /// The dead-letter queue.
    url: String,
    inbox_url: String,
    workflows: WorkflowsEndpoint,
    mapping: EventSourceMapping,
    _relays: Vec<FunctionProcess>,
}

impl Stack {
    async fn start() -> Self {
        let moto = MotoServer::start().unwrap();
        let config = moto.sdk_config().await;
        let sqs = aws_sdk_sqs::Client::new(&config);
        let url = okta_relay_e2e::moto::create_queue(&config, "dlq")
            .await
            .unwrap();
        let (inbox_url, inbox_arn) = okta_relay_e2e::moto::create_inbox(
            &config,
            "inbox",
            &url,
            6 * RELAY_TIMEOUT.as_secs(),
            5,
        )
        .await
        .unwrap();
        let workflows = WorkflowsEndpoint::start().await.unwrap();
        let ssm = aws_sdk_ssm::Client::new(&config);
        let routes = json!({"version": 1, "routes": [
            {"name": "sessions", "pattern": {"detail": {"eventType": [{"prefix": "user.session."}]}},
             "endpoint": workflows.url("/sessions"), "maxRequestsPerSecond": 1000,
             "auth": {"scheme": "header", "tokenParameter": "/okta-relay/workflows/token"}},
            {"name": "everything", "pattern": {"source": [{"prefix": "aws.partner/okta.com/"}]},
             "endpoint": workflows.url("/everything"), "maxRequestsPerSecond": 1000,
             "auth": {"scheme": "header", "tokenParameter": "/okta-relay/workflows/token"}}
        ]});
        okta_relay_e2e::moto::put_parameter(&ssm, "/okta-relay/routes", &routes.to_string(), false)
            .await
            .unwrap();
        okta_relay_e2e::moto::put_parameter(&ssm, "/okta-relay/workflows/token", TOKEN, true)
            .await
            .unwrap();
        let api = Arc::new(RuntimeApi::start().await.unwrap());
        let mut env = function_env(&moto, &url, &inbox_url, &api, "okta-relay-relay");
        env.push(("MAX_CONCURRENCY".into(), "2".into()));
        let binary = release_binary("relay").unwrap();
        let relays = (0..2)
            .map(|_| FunctionProcess::spawn(&binary, &env).unwrap())
            .collect();
        let mapping = EventSourceMapping::start(
            sqs.clone(),
            &inbox_url,
            &inbox_arn,
            api,
            MappingSettings {
                batch_size: 10,
                batching_window: Duration::from_millis(200),
                max_concurrency: 2,
                function_timeout: RELAY_TIMEOUT,
            },
        );
        Self {
            moto,
            sqs,
            url,
            inbox_url,
            workflows,
            mapping,
            _relays: relays,
        }
    }

    async fn redrive(&self, extra: &[&str]) -> (i32, String) {
        let mut command = Command::new(env!("CARGO_BIN_EXE_okta-relay"));
        command
            .args([
                "redrive",
                "--queue-url",
                &self.url,
                "--inbox-queue-url",
                &self.inbox_url,
                "--routes-parameter",
                "/okta-relay/routes",
                "--allow-http-localhost",
            ])
            .args(extra)
            .envs(self.moto.process_env());
        let ran = okta_relay_e2e::command::run(command, &[TOKEN])
            .await
            .unwrap();
        (ran.code, ran.text())
    }

    /// Waits until the relay has settled everything in the inbox.
    async fn relay_settles(&self) {
        assert!(
            self.mapping
                .wait_until_drained(Duration::from_secs(120))
                .await,
            "the inbox did not drain"
        );
    }

    /// The relay dead-letters two session events' `sessions` deliveries while that flow refuses
    /// the client token (401: refused for good); the inbox's redrive policy has moved a third
    /// event, as the rule put it, after five failed receives: 3 messages.
    async fn dead_letter_under_a_refusing_flow(&self) {
        self.workflows.script(|path, _| {
            if path.starts_with("/sessions") {
                Answer::Status(401)
            } else {
                Answer::Ok
            }
        });
        let config = self.moto.sdk_config().await;
        let events = [
            event("u-session-1", "user.session.start").to_string(),
            event("u-session-2", "user.session.end").to_string(),
        ];
        okta_relay_e2e::moto::send_bodies(&config, &self.inbox_url, &events)
            .await
            .unwrap();
        self.relay_settles().await;
        assert_eq!(self.depth().await, 2, "one letter per refused delivery");
        self.sqs
            .send_message()
            .queue_url(&self.url)
            .message_body(event("u-moved-1", "user.account.lock").to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(self.depth().await, 3);
    }

    /// A payload the relay rejected: never sent again.
    async fn send_rejected_payload(&self) {
        let rejected = json!({"schema": "okta-relay.dead-letter/v1", "kind": "bad_input", "reason": "payload is not JSON",
                              "payload": "{", "payloadBytes": 1, "truncated": false, "deadLetteredAt": "2026-11-25T10:00:00Z"});
        self.sqs
            .send_message()
            .queue_url(&self.url)
            .message_body(rejected.to_string())
            .send()
            .await
            .unwrap();
    }

    async fn depth(&self) -> usize {
        let attributes = self
            .sqs
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .unwrap();
        attributes.attributes().unwrap()
            [&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages]
            .parse()
            .unwrap()
    }

    /// (uuid, client token) of every request a flow accepted.
    fn accepted(&self, flow: &str) -> Vec<(String, String)> {
        self.workflows
            .received()
            .iter()
            .filter(|r| r.succeeded() && r.path.starts_with(flow))
            .map(|r| {
                (
                    r.header("idempotency-key").unwrap().to_string(),
                    r.header("x-api-client-token").unwrap().to_string(),
                )
            })
            .collect()
    }
}

/// A function's environment as the template sets it for the relay and the redrive function.
fn function_env(
    moto: &MotoServer,
    dead_letters: &str,
    inbox: &str,
    api: &RuntimeApi,
    name: &str,
) -> Vec<(String, String)> {
    let mut env = api.lambda_env(name);
    env.extend(moto.process_env());
    env.extend(
        [
            ("ROUTES_PARAMETER", "/okta-relay/routes"),
            ("DEAD_LETTER_QUEUE_URL", dead_letters),
            ("INBOX_QUEUE_URL", inbox),
            ("ALLOW_HTTP_LOCALHOST", "true"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    env
}

fn event(uuid: &str, event_type: &str) -> Value {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../samples/eventbridge-events.jsonl");
    let mut event: Value = serde_json::from_str(
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    event["detail"]["uuid"] = json!(uuid);
    event["detail"]["eventType"] = json!(event_type);
    event
}

#[tokio::test(flavor = "multi_thread")]
async fn what_a_flow_refused_goes_back_through_the_inbox_once_the_cause_is_fixed() {
    let stack = Stack::start().await;
    stack.dead_letter_under_a_refusing_flow().await;

    let (code, listed) = stack.redrive(&["--dry-run"]).await;
    assert_eq!(code, 0, "{listed}");
    assert!(
        listed.contains("would send event u-session-1 to sessions"),
        "{listed}"
    );
    assert!(
        listed.contains("would send event u-moved-1 to everything"),
        "{listed}"
    );
    assert_eq!(stack.depth().await, 3, "a dry run changes nothing");
    let (code, summary) = stack.redrive(&["--dry-run", "--output", "json"]).await;
    assert_eq!(code, 0, "{summary}");
    let summary: Value = summary
        .lines()
        .find_map(|line| serde_json::from_str(line).ok())
        .unwrap();
    assert_eq!(summary["wouldSend"], 3, "each of the 3 letters: {summary}");

    // Still refused: the letters go round once more and come back; nothing is lost.
    let (code, output) = stack.redrive(&[]).await;
    assert_eq!(code, 0, "{output}");
    stack.relay_settles().await;
    assert_eq!(stack.depth().await, 2, "refused again, dead-lettered again");
    assert_eq!(stack.accepted("/everything").len(), 3);

    // The flow takes the token again: the next redrive delivers them.
    stack.workflows.script(|_, _| Answer::Ok);
    let (code, recovered) = stack.redrive(&[]).await;
    assert_eq!(code, 0, "{recovered}");
    let requeued = recovered
        .lines()
        .find(|line| line.contains("back in the inbox, deleted"))
        .unwrap();
    assert!(requeued.contains("| 2 "), "{recovered}");
    assert!(
        recovered.contains("event u-session-1 back in the inbox for sessions"),
        "{recovered}"
    );
    stack.relay_settles().await;
    assert_eq!(stack.depth().await, 0, "the queue is empty");
    let sessions = stack.accepted("/sessions");
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    assert!(sessions.iter().all(|(_, token)| token == TOKEN));
    // `everything` had accepted both session events before: the letters owed `sessions` only.
    assert_eq!(stack.accepted("/everything").len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn rejected_payloads_stay_in_the_queue_for_a_person() {
    let stack = Stack::start().await;
    stack.send_rejected_payload().await;
    let (code, output) = stack.redrive(&[]).await;
    assert_eq!(code, 1, "{output}");
    assert!(
        output.contains("the relay rejected this payload (payload is not JSON)"),
        "{output}"
    );
    assert_eq!(stack.depth().await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_redrive_function_drains_the_queue_from_inside_the_stack() {
    let stack = Stack::start().await;
    stack.dead_letter_under_a_refusing_flow().await;
    stack.send_rejected_payload().await;

    let api = RuntimeApi::start().await.unwrap();
    let env = function_env(
        &stack.moto,
        &stack.url,
        &stack.inbox_url,
        &api,
        "okta-relay-redrive",
    );
    let function = FunctionProcess::spawn(&release_binary("redrive").unwrap(), &env).unwrap();
    let invoke = |payload: Value| {
        let api = &api;
        async move {
            match api
                .invoke(payload.to_string(), Duration::from_secs(900))
                .await
            {
                Outcome::Response(body) => Ok(serde_json::from_slice::<Value>(&body).unwrap()),
                Outcome::Error(error) => Err(String::from_utf8_lossy(&error).to_string()),
                other => panic!("{other:?}"),
            }
        }
    };

    let refused = invoke(json!({"dry": true})).await.unwrap_err();
    assert!(refused.contains("dryRun"), "{refused}");
    let listed = invoke(json!({"dryRun": true})).await.unwrap();
    assert_eq!(
        listed,
        json!({"redriven": 0, "wouldSend": 3, "kept": 0, "notRedrivable": 1})
    );
    assert_eq!(stack.depth().await, 4, "a dry run changes nothing");

    stack.workflows.script(|_, _| Answer::Ok);
    let drained = invoke(json!({})).await.unwrap();
    assert_eq!(
        drained,
        json!({"redriven": 3, "wouldSend": 0, "kept": 0, "notRedrivable": 1})
    );
    stack.relay_settles().await;
    assert_eq!(
        stack.depth().await,
        1,
        "only the rejected payload stays, for a person"
    );
    assert_eq!(stack.accepted("/sessions").len(), 2);
    let log = function.log();
    assert!(
        log.contains("\"outcome\":\"redriven\"") && log.contains("\"outcome\":\"not_redrivable\""),
        "{log}"
    );
    assert!(!log.contains(TOKEN), "the client token leaked");
}
