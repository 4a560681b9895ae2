#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

//! Redrive against moto's SQS and SSM, from `okta-relay redrive` and from the release redrive
//! Lambda (both drain through `relay_core::redrive::drain`): events the release relay
//! dead-lettered while an endpoint failed are delivered once it recovers, and the queue ends
//! empty but for what a person must read.

use std::process::Command;
use std::time::Duration;

use okta_relay_e2e::functions::{FunctionProcess, release_binary};
use okta_relay_e2e::moto::MotoServer;
use okta_relay_e2e::runtime_api::{Outcome, RuntimeApi};
use okta_relay_e2e::workflows::{Answer, WorkflowsEndpoint};
use serde_json::{Value, json};

const TOKEN: &str = "wf-redrive-client-token-51b0";

struct Queue {
    moto: MotoServer,
    sqs: aws_sdk_sqs::Client,
    url: String,
    workflows: WorkflowsEndpoint,
}

impl Queue {
    async fn start() -> Self {
        let moto = MotoServer::start().unwrap();
        let config = moto.sdk_config().await;
        let sqs = aws_sdk_sqs::Client::new(&config);
        let url = okta_relay_e2e::moto::create_queue(&config, "dlq")
            .await
            .unwrap();
        let workflows = WorkflowsEndpoint::start().await.unwrap();
        let ssm = aws_sdk_ssm::Client::new(&config);
        let routes = json!({"version": 1, "routes": [
            {"name": "sessions", "pattern": {"detail": {"eventType": [{"prefix": "user.session."}]}},
             "endpoint": workflows.url("/sessions"),
             "auth": {"scheme": "header", "tokenParameter": "/okta-relay/workflows/token"}},
            {"name": "everything", "pattern": {"source": [{"prefix": "aws.partner/okta.com/"}]},
             "endpoint": workflows.url("/everything"),
             "auth": {"scheme": "header", "tokenParameter": "/okta-relay/workflows/token"}}
        ]});
        ssm.put_parameter()
            .name("/okta-relay/routes")
            .value(routes.to_string())
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .send()
            .await
            .unwrap();
        ssm.put_parameter()
            .name("/okta-relay/workflows/token")
            .value(TOKEN)
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .send()
            .await
            .unwrap();
        Self {
            moto,
            sqs,
            url,
            workflows,
        }
    }

    async fn redrive(&self, extra: &[&str]) -> (i32, String) {
        let mut command = Command::new(env!("CARGO_BIN_EXE_okta-relay"));
        command
            .args([
                "redrive",
                "--queue-url",
                &self.url,
                "--routes-parameter",
                "/okta-relay/routes",
                "--ssm",
                "--allow-http-localhost",
            ])
            .args(extra)
            .envs(self.moto.process_env());
        let ran = okta_relay_e2e::command::run(command, &[TOKEN])
            .await
            .unwrap();
        (ran.code, ran.text())
    }

    /// The release relay dead-letters two session events' `sessions` deliveries while that
    /// endpoint answers 503; a Lambda on-failure record joins them: 3 messages.
    async fn dead_letter_under_a_failing_endpoint(&self) {
        self.workflows.script(|path, _| {
            if path.starts_with("/sessions") {
                Answer::Status(503)
            } else {
                Answer::Ok
            }
        });

        // The release relay dead-letters the two session events' `sessions` deliveries.
        let api = RuntimeApi::start().await.unwrap();
        let env = self.function_env(&api, "okta-relay-relay");
        let binary = release_binary("relay").unwrap();
        let _relays = [
            FunctionProcess::spawn(&binary, &env).unwrap(),
            FunctionProcess::spawn(&binary, &env).unwrap(),
        ];
        let (first, second) = tokio::join!(
            api.invoke(
                event("u-session-1", "user.session.start").to_string(),
                Duration::from_secs(30)
            ),
            api.invoke(
                event("u-session-2", "user.session.end").to_string(),
                Duration::from_secs(30)
            ),
        );
        assert!(matches!(first, Outcome::Response(_)) && matches!(second, Outcome::Response(_)));
        // And a whole invocation Lambda gave up on, in its on-failure record format.
        let record = json!({
            "version": "1.0", "timestamp": "2026-11-25T10:00:00.000Z",
            "requestContext": {"requestId": "r-1", "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:relay:$LATEST",
                               "condition": "RetriesExhausted", "approximateInvokeCount": 3},
            "requestPayload": event("u-record-1", "user.account.lock"),
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": {"errorMessage": "could not dead-letter"}
        });
        self.sqs
            .send_message()
            .queue_url(&self.url)
            .message_body(record.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(self.depth().await, 3);
    }

    /// A function's environment as the template sets it for the relay and the redrive function.
    fn function_env(&self, api: &RuntimeApi, name: &str) -> Vec<(String, String)> {
        let mut env = api.lambda_env(name);
        env.extend(self.moto.process_env());
        env.extend([
            (
                "ROUTES_PARAMETER".to_string(),
                "/okta-relay/routes".to_string(),
            ),
            ("DEAD_LETTER_QUEUE_URL".to_string(), self.url.clone()),
            ("ALLOW_HTTP_LOCALHOST".to_string(), "true".to_string()),
        ]);
        env
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
async fn events_dead_lettered_while_an_endpoint_failed_are_delivered_after_it_recovers() {
    let queue = Queue::start().await;
    queue.dead_letter_under_a_failing_endpoint().await;

    let (code, listed) = queue.redrive(&["--dry-run"]).await;
    assert_eq!(code, 0, "{listed}");
    assert!(
        listed.contains("would send event u-session-1 to sessions"),
        "{listed}"
    );
    assert!(
        listed.contains("would send event u-record-1 to everything"),
        "{listed}"
    );
    assert_eq!(queue.depth().await, 3, "a dry run changes nothing");

    let (code, still_failing) = queue.redrive(&["--budget-seconds", "2"]).await;
    assert_eq!(code, 1, "{still_failing}");
    assert!(
        still_failing.contains("sessions: HTTP 503"),
        "{still_failing}"
    );
    assert_eq!(
        queue.depth().await,
        2,
        "only the record (to a healthy route) was deleted"
    );

    queue.workflows.script(|_, _| Answer::Ok);
    let (code, recovered) = queue.redrive(&[]).await;
    assert_eq!(code, 0, "{recovered}");
    let redriven = recovered
        .lines()
        .find(|line| line.contains("redriven and deleted"))
        .unwrap();
    assert!(redriven.contains("| 2 "), "{recovered}");
    assert_eq!(queue.depth().await, 0, "the queue is empty");
    let delivered: Vec<(String, String)> = queue
        .workflows
        .received()
        .iter()
        .filter(|r| r.succeeded() && r.path.starts_with("/sessions"))
        .map(|r| {
            (
                r.header("idempotency-key").unwrap().to_string(),
                r.header("x-api-client-token").unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(delivered.len(), 2, "{delivered:?}");
    assert!(delivered.iter().all(|(_, token)| token == TOKEN));
}

#[tokio::test(flavor = "multi_thread")]
async fn rejected_payloads_stay_in_the_queue_for_a_person() {
    let queue = Queue::start().await;
    queue.send_rejected_payload().await;
    let (code, output) = queue.redrive(&[]).await;
    assert_eq!(code, 1, "{output}");
    assert!(
        output.contains("the relay rejected this payload (payload is not JSON)"),
        "{output}"
    );
    assert_eq!(queue.depth().await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_redrive_function_drains_the_queue_from_inside_the_stack() {
    let queue = Queue::start().await;
    queue.dead_letter_under_a_failing_endpoint().await;
    queue.send_rejected_payload().await;

    let api = RuntimeApi::start().await.unwrap();
    let env = queue.function_env(&api, "okta-relay-redrive");
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
    assert_eq!(queue.depth().await, 4, "a dry run changes nothing");

    queue.workflows.script(|_, _| Answer::Ok);
    let drained = invoke(json!({})).await.unwrap();
    assert_eq!(
        drained,
        json!({"redriven": 3, "wouldSend": 0, "kept": 0, "notRedrivable": 1})
    );
    assert_eq!(
        queue.depth().await,
        1,
        "only the rejected payload stays, for a person"
    );
    let sessions: Vec<String> = queue
        .workflows
        .received()
        .iter()
        .filter(|r| r.succeeded() && r.path.starts_with("/sessions"))
        .map(|r| r.header("idempotency-key").unwrap().to_string())
        .collect();
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    let log = function.log();
    assert!(
        log.contains("\"outcome\":\"redriven\"") && log.contains("\"outcome\":\"not_redrivable\""),
        "{log}"
    );
    assert!(!log.contains(TOKEN), "the client token leaked");
}
