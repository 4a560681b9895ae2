#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

//! The custom resource protocol with a local HTTP server as CloudFormation's ResponseURL, and the
//! real work against moto (SSM, EventBridge) and the fake Okta.

use std::sync::Arc;
use std::time::Duration;

use aws_adapters::EventBridgeBuses;
use axum::http::HeaderMap;
use lambda_support::env::ConfigError;
use okta_relay_e2e::fake_okta::{FakeOkta, Fault, PartnerSources};
use okta_relay_e2e::moto::MotoServer;
use okta_relay_e2e::response_url::ResponseUrl;
use provisioner::custom_resource::{self, Answer, RESPONSE_MARGIN};
use provisioner::provision::{self, ProvisionerClients, ProvisionerConfig};
use serde_json::{Value, json};

const TOKEN: &str = "00cfn-okta-token-must-stay-secret";
const ACCOUNT: &str = "123456789012";
const TOKEN_PARAMETER: &str = "/okta-relay/okta-api-token";

fn request(
    kind: &str,
    url: &str,
    physical: Option<&str>,
    properties: Value,
    old: Option<Value>,
) -> Value {
    let mut request = json!({
        "RequestType": kind,
        "ServiceToken": format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:provisioner"),
        "ResponseURL": url,
        "StackId": format!("arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/okta-relay/0c7a5a20"),
        "RequestId": format!("req-{kind}"),
        "ResourceType": "Custom::OktaLogStream",
        "LogicalResourceId": "OktaLogStream",
        "ResourceProperties": properties,
    });
    if let Some(physical) = physical {
        request["PhysicalResourceId"] = json!(physical);
    }
    if let Some(old) = old {
        request["OldResourceProperties"] = old;
    }
    request
}

fn properties() -> Value {
    json!({
        "ServiceToken": format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:provisioner"),
        "OrgUrl": "https://example.okta.com",
        "LogStreamName": "okta-relay",
        "EventSourceName": "okta-relay",
        "AccountId": ACCOUNT,
        "Region": "us-east-1",
        "RuleName": "okta-relay",
        "EventPattern": "{\"detail\":{\"eventType\":[{\"prefix\":\"user.\"}]}}",
        "TargetArn": format!("arn:aws:sqs:us-east-1:{ACCOUNT}:okta-relay-inbox"),
        "DeadLetterQueueArn": format!("arn:aws:sqs:us-east-1:{ACCOUNT}:dlq"),
        "MaximumRetryAttempts": "4",
        "PartnerSourceWaitSeconds": "5"
    })
}

async fn answer_with(
    work: impl FnOnce() -> Result<Answer, String> + Send + 'static,
    time_left: Duration,
) -> (Value, Vec<(String, HeaderMap, Value)>) {
    let server = ResponseUrl::start(0).await.unwrap();
    let http = reqwest::Client::new();
    custom_resource::handle(
        request("Create", server.url(), None, properties(), None),
        time_left,
        &http,
        "2026/11/25/[$LATEST]abc",
        move |_| async move { work() },
    )
    .await
    .unwrap();
    let received = server.received();
    (received[0].2.clone(), received)
}

#[tokio::test]
async fn success_is_put_to_the_response_url_in_cloudformation_format() {
    let (body, received) = answer_with(
        || {
            Ok(Answer {
                physical_resource_id: "0oa42".into(),
                data: [("RuleArn".to_string(), "arn:rule".to_string())].into(),
            })
        },
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(received.len(), 1);
    let (line, headers, _) = &received[0];
    assert_eq!(
        line,
        "PUT /cfn-responses/stack%7Cres?X-Amz-Signature=abc&X-Amz-Expires=7200"
    );
    assert!(
        headers.get("content-type").is_none(),
        "the pre-signed URL was signed without one"
    );
    assert_eq!(
        body,
        json!({
            "Status": "SUCCESS",
            "PhysicalResourceId": "0oa42",
            "StackId": format!("arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/okta-relay/0c7a5a20"),
            "RequestId": "req-Create",
            "LogicalResourceId": "OktaLogStream",
            "NoEcho": false,
            "Data": {"RuleArn": "arn:rule"}
        })
    );
}

#[tokio::test]
async fn each_answer_emits_the_provisioner_failed_metric() {
    let server = ResponseUrl::start(0).await.unwrap();
    let response = custom_resource::handle(
        request("Create", server.url(), None, properties(), None),
        Duration::from_secs(60),
        &reqwest::Client::new(),
        "log",
        |_| async { Err("Okta said no".to_string()) },
    )
    .await
    .unwrap();
    assert_eq!(server.bodies().len(), 1);
    let line: Value = serde_json::from_str(&custom_resource::metric_line(
        "stack-provisioner",
        &response,
    ))
    .unwrap();
    assert_eq!(line["ProvisionerFailed"], 1);
    assert_eq!(line["FunctionName"], "stack-provisioner");
    assert_eq!(
        line["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "OktaRelay"
    );
    assert_eq!(
        line["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"],
        "ProvisionerFailed"
    );
}

#[tokio::test]
async fn a_panic_is_answered_failed_with_its_message() {
    let (body, _) = answer_with(|| panic!("boom in the work"), Duration::from_secs(60)).await;
    assert_eq!(body["Status"], "FAILED");
    assert_eq!(
        body["PhysicalResourceId"],
        "okta-relay-create-failed-req-Create"
    );
    let reason = body["Reason"].as_str().unwrap();
    assert!(
        reason.starts_with("the provisioner panicked: boom in the work"),
        "{reason}"
    );
    assert!(
        reason.ends_with("(details: CloudWatch log stream 2026/11/25/[$LATEST]abc)"),
        "{reason}"
    );
}

#[tokio::test]
async fn running_out_of_time_is_answered_failed_before_the_deadline() {
    let server = ResponseUrl::start(0).await.unwrap();
    let started = std::time::Instant::now();
    custom_resource::handle(
        request("Create", server.url(), None, properties(), None),
        RESPONSE_MARGIN + Duration::from_millis(300),
        &reqwest::Client::new(),
        "log",
        |_| async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok::<_, String>(Answer::default())
        },
    )
    .await
    .unwrap();
    assert!(
        started.elapsed() < RESPONSE_MARGIN,
        "answered within the work's budget"
    );
    let body = &server.bodies()[0];
    assert_eq!(body["Status"], "FAILED");
    assert!(
        body["Reason"].as_str().unwrap().contains("ran out of time"),
        "{body}"
    );
}

#[tokio::test]
async fn a_failing_response_url_is_retried_and_a_non_request_is_refused() {
    let server = ResponseUrl::start(2).await.unwrap();
    custom_resource::handle(
        request("Delete", server.url(), Some("0oa1"), properties(), None),
        Duration::from_secs(60),
        &reqwest::Client::new(),
        "log",
        |_| async {
            Ok::<_, String>(Answer {
                physical_resource_id: "0oa1".into(),
                data: Default::default(),
            })
        },
    )
    .await
    .unwrap();
    assert_eq!(server.bodies().len(), 3, "two 500s, then delivered");

    let error = custom_resource::handle(
        json!({"detail-type": "Scheduled Event"}),
        Duration::from_secs(60),
        &reqwest::Client::new(),
        "log",
        |_| async { Ok::<_, String>(Answer::default()) },
    )
    .await
    .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("there is no ResponseURL to answer"),
        "{error}"
    );
}

struct World {
    okta: FakeOkta,
    aws: Arc<ProvisionerClients>,
    ssm: aws_sdk_ssm::Client,
    eventbridge: aws_sdk_eventbridge::Client,
    _moto: MotoServer,
}

async fn world() -> World {
    let moto = MotoServer::start().unwrap();
    let config = moto.sdk_config().await;
    let okta = FakeOkta::start(TOKEN, Some(config.clone())).await.unwrap();
    let ssm = aws_sdk_ssm::Client::new(&config);
    ssm.put_parameter()
        .name(TOKEN_PARAMETER)
        .value(TOKEN)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .unwrap();
    let eventbridge = aws_sdk_eventbridge::Client::new(&config);
    let aws = Arc::new(ProvisionerClients {
        ssm: ssm.clone(),
        kms: aws_sdk_kms::Client::new(&config),
        secrets: aws_adapters::SecretReader::new(&config),
        buses: EventBridgeBuses::new(eventbridge.clone()),
    });
    World {
        okta,
        aws,
        ssm,
        eventbridge,
        _moto: moto,
    }
}

impl World {
    fn config(&self) -> Result<ProvisionerConfig, ConfigError> {
        ProvisionerConfig::from_env(|name| match name {
            "OKTA_API_TOKEN_PARAMETER" => Some(TOKEN_PARAMETER.into()),
            "OKTA_API_BASE_URL" => Some(self.okta.base_url()),
            _ => None,
        })
    }

    /// Sends one request through the whole handler, as the Lambda does, and returns the body
    /// CloudFormation received.
    async fn cfn(
        &self,
        request_type: &str,
        physical: Option<&str>,
        properties: Value,
        old: Option<Value>,
        config: Result<ProvisionerConfig, ConfigError>,
    ) -> Value {
        let server = ResponseUrl::start(0).await.unwrap();
        let aws = self.aws.clone();
        custom_resource::handle(
            request(request_type, server.url(), physical, properties, old),
            Duration::from_secs(120),
            &reqwest::Client::new(),
            "log",
            move |request| async move { provision::run(request, config, &aws).await },
        )
        .await
        .unwrap();
        let body = server.bodies().remove(0);
        assert!(
            !body.to_string().contains(TOKEN),
            "the token leaked into the response: {body}"
        );
        body
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_stream_s_unrouted_first_seconds_are_left_to_the_watchdog_s_backfill() {
    let world = world().await;
    let state = "/okta-relay/backfill-state";
    world
        .ssm
        .put_parameter()
        .name(state)
        .value(r#"{"gaps":[]}"#)
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .send()
        .await
        .unwrap();
    let config = ProvisionerConfig::from_env(|name| match name {
        "OKTA_API_TOKEN_PARAMETER" => Some(TOKEN_PARAMETER.into()),
        "OKTA_API_BASE_URL" => Some(world.okta.base_url()),
        "BACKFILL_STATE_PARAMETER" => Some(state.into()),
        _ => None,
    });
    let before = chrono::Utc::now();
    let created = world.cfn("Create", None, properties(), None, config).await;
    let after = chrono::Utc::now();
    assert_eq!(created["Status"], "SUCCESS", "{created}");

    let text = aws_adapters::read_parameter(&world.ssm, state, "state")
        .await
        .unwrap();
    let pending: relay_core::backfill::PendingBackfill = serde_json::from_str(&text).unwrap();
    assert_eq!(pending.gaps.len(), 1, "{text}");
    let gap = &pending.gaps[0];
    assert!(
        before <= gap.since && gap.since < gap.until && gap.until <= after,
        "from just before the stream to after its rule and target: {text}"
    );

    // Converging again creates nothing, so records nothing.
    let id = created["PhysicalResourceId"].as_str().unwrap().to_string();
    let config = ProvisionerConfig::from_env(|name| match name {
        "OKTA_API_TOKEN_PARAMETER" => Some(TOKEN_PARAMETER.into()),
        "OKTA_API_BASE_URL" => Some(world.okta.base_url()),
        "BACKFILL_STATE_PARAMETER" => Some(state.into()),
        _ => None,
    });
    let updated = world
        .cfn(
            "Update",
            Some(&id),
            properties(),
            Some(properties()),
            config,
        )
        .await;
    assert_eq!(updated["Status"], "SUCCESS", "{updated}");
    let again = aws_adapters::read_parameter(&world.ssm, state, "state")
        .await
        .unwrap();
    assert_eq!(again, text);
}

#[tokio::test(flavor = "multi_thread")]
async fn create_update_delete_and_delete_again_succeed() {
    let world = world().await;
    let created = world
        .cfn("Create", None, properties(), None, world.config())
        .await;
    assert_eq!(created["Status"], "SUCCESS", "{created}");
    let id = created["PhysicalResourceId"].as_str().unwrap().to_string();
    assert_eq!(created["Data"]["LogStreamId"], id.as_str());
    assert_eq!(created["Data"]["LogStreamStatus"], "ACTIVE");
    assert_eq!(
        created["Data"]["PartnerEventSource"],
        "aws.partner/okta.com/example/okta-relay"
    );
    assert!(
        created["Data"]["RuleArn"]
            .as_str()
            .unwrap()
            .contains(":rule/"),
        "{created}"
    );

    let mut renamed = properties();
    renamed["RuleName"] = json!("okta-relay-v2");
    renamed["LogStreamName"] = json!("okta-relay (prod)");
    let updated = world
        .cfn(
            "Update",
            Some(&id),
            renamed.clone(),
            Some(properties()),
            world.config(),
        )
        .await;
    assert_eq!(updated["Status"], "SUCCESS", "{updated}");
    assert_eq!(
        updated["PhysicalResourceId"],
        id.as_str(),
        "updated in place"
    );
    let rules = world
        .eventbridge
        .list_rules()
        .event_bus_name("aws.partner/okta.com/example/okta-relay")
        .send()
        .await
        .unwrap();
    let names: Vec<&str> = rules.rules().iter().filter_map(|r| r.name()).collect();
    assert_eq!(
        names,
        ["okta-relay-v2"],
        "the renamed rule replaced the old one"
    );

    let deleted = world
        .cfn("Delete", Some(&id), renamed.clone(), None, world.config())
        .await;
    assert_eq!(deleted["Status"], "SUCCESS", "{deleted}");
    assert!(world.okta.streams().is_empty());
    let again = world
        .cfn("Delete", Some(&id), renamed, None, world.config())
        .await;
    assert_eq!(
        again["Status"], "SUCCESS",
        "deleting what is gone succeeds: {again}"
    );
    assert_eq!(world.okta.violations(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn changing_the_event_source_replaces_the_resource() {
    let world = world().await;
    let created = world
        .cfn("Create", None, properties(), None, world.config())
        .await;
    let old_id = created["PhysicalResourceId"].as_str().unwrap().to_string();
    let mut moved = properties();
    moved["EventSourceName"] = json!("okta-relay-v2");
    let updated = world
        .cfn(
            "Update",
            Some(&old_id),
            moved,
            Some(properties()),
            world.config(),
        )
        .await;
    assert_eq!(updated["Status"], "SUCCESS", "{updated}");
    assert_ne!(
        updated["PhysicalResourceId"],
        old_id.as_str(),
        "a new physical id: CloudFormation deletes the old"
    );
    let deleted = world
        .cfn("Delete", Some(&old_id), properties(), None, world.config())
        .await;
    assert_eq!(deleted["Status"], "SUCCESS", "{deleted}");
    let streams = world.okta.streams();
    assert_eq!(streams.len(), 1);
    assert_eq!(streams[0].1, "okta-relay");
    assert_eq!(streams[0].3["eventSourceName"], "okta-relay-v2");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_failure_is_answered_failed_with_a_reason_to_act_on() {
    let world = world().await;
    let mut bad_account = properties();
    bad_account["AccountId"] = json!("1234");
    let mut typo = properties();
    typo["EventPatern"] = json!("{}");
    let mut no_source = properties();
    no_source["EventSourceName"] = json!("never-appears");
    no_source["PartnerSourceWaitSeconds"] = json!("1");
    let missing_env = ProvisionerConfig::from_env(|_| None);
    let missing_parameter = ProvisionerConfig::from_env(|name| match name {
        "OKTA_API_TOKEN_PARAMETER" => Some("/okta-relay/missing".into()),
        "OKTA_API_BASE_URL" => Some(world.okta.base_url()),
        _ => None,
    });
    type Setup = Box<dyn Fn(&World)>;
    let none: Setup = Box::new(|_| {});
    let cases: Vec<(Setup, Value, Result<ProvisionerConfig, ConfigError>, &str)> = vec![
        (
            none,
            bad_account,
            world.config(),
            "AWS account id `1234` must be exactly 12 digits",
        ),
        (
            Box::new(|_| {}),
            typo,
            world.config(),
            "unknown field `EventPatern`",
        ),
        (
            Box::new(|_| {}),
            properties(),
            missing_env,
            "OKTA_API_TOKEN_PARAMETER is not set",
        ),
        (
            Box::new(|_| {}),
            properties(),
            missing_parameter,
            "reading the Okta API token from SSM parameter /okta-relay/missing",
        ),
        (
            Box::new(|w| w.okta.inject(Fault::status("createLogStream", 400, 1))),
            properties(),
            world.config(),
            "Okta rejected POST /api/v1/logStreams with 400",
        ),
        (
            Box::new(|w| w.okta.inject(Fault::status("createLogStream", 403, 1))),
            properties(),
            world.config(),
            "Okta returned 403 to POST /api/v1/logStreams (E0000006: You do not have permission to perform the requested action",
        ),
        (
            Box::new(|w| {
                w.okta
                    .inject(Fault::rate_limited("listLogStreams", 3600, 1))
            }),
            properties(),
            world.config(),
            "kept answering 429 (rate limited) to GET /api/v1/logStreams",
        ),
        (
            Box::new(|w| w.okta.inject(Fault::status("createLogStream", 500, 5))),
            properties(),
            world.config(),
            "Okta returned 500 to POST /api/v1/logStreams after 5 attempts",
        ),
        (
            Box::new(|w| w.okta.set_partner_sources(PartnerSources::Never)),
            no_source,
            world.config(),
            "partner event source aws.partner/okta.com/example/never-appears did not appear in EventBridge within 1s",
        ),
    ];
    for (setup, properties, config, expected) in cases {
        setup(&world);
        let answer = world.cfn("Create", None, properties, None, config).await;
        assert_eq!(answer["Status"], "FAILED", "{answer}");
        let reason = answer["Reason"].as_str().unwrap();
        assert!(
            reason.contains(expected),
            "expected `{expected}` in: {reason}"
        );
        assert!(
            answer["PhysicalResourceId"]
                .as_str()
                .unwrap()
                .starts_with("okta-relay-create-failed-")
        );
    }

    // A wrong token in SSM: Okta's 401, and the token itself nowhere in the answer.
    world
        .ssm
        .put_parameter()
        .name(TOKEN_PARAMETER)
        .value("00revoked-token")
        .overwrite(true)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .unwrap();
    let answer = world
        .cfn("Create", None, properties(), None, world.config())
        .await;
    let reason = answer["Reason"].as_str().unwrap();
    assert!(
        reason.contains("Okta returned 401") && reason.contains("invalid, expired or revoked"),
        "{reason}"
    );
    assert!(!reason.contains("00revoked-token"), "{reason}");

    world
        .ssm
        .put_parameter()
        .name(TOKEN_PARAMETER)
        .value(TOKEN)
        .overwrite(true)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .unwrap();
    // A stream that vanishes between listing and activating: Okta's 404, reported as such.
    let ours = json!({"accountId": ACCOUNT, "eventSourceName": "vanishing", "region": "us-east-1"});
    let id = world.okta.seed_stream("okta-relay-404", ours, false);
    world
        .okta
        .inject(Fault::status("activateLogStream", 404, 1));
    let mut vanishing = properties();
    vanishing["LogStreamName"] = json!("okta-relay-404");
    vanishing["EventSourceName"] = json!("vanishing");
    vanishing["AdoptExisting"] = json!("true");
    let answer = world
        .cfn("Create", None, vanishing, None, world.config())
        .await;
    let reason = answer["Reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!(
            "Okta returned 404 to POST /api/v1/logStreams/{id}/lifecycle/activate"
        )),
        "{reason}"
    );

    // The Delete CloudFormation sends after a failed Create cleans up what the Create left.
    let mut never = properties();
    never["EventSourceName"] = json!("never-appears");
    let cleaned = world
        .cfn(
            "Delete",
            Some("okta-relay-create-failed-req-Create"),
            never,
            None,
            world.config(),
        )
        .await;
    assert_eq!(cleaned["Status"], "SUCCESS", "{cleaned}");
    let left: Vec<_> = world
        .okta
        .streams()
        .into_iter()
        .map(|s| s.3["eventSourceName"].clone())
        .collect();
    assert_eq!(
        left,
        [json!("vanishing")],
        "the stream the failed Create made is gone"
    );
    assert_eq!(world.okta.violations(), Vec::<String>::new());
}
