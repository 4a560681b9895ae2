#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

//! The watchdog's check against moto and the fake Okta: Okta deactivating the stream is noticed,
//! the stream activated again, and the outage start reported.

use aws_adapters::EventBridgeBuses;
use okta_relay_e2e::fake_okta::FakeOkta;
use okta_relay_e2e::moto::{MotoServer, REGION};
use provisioning::StreamHealth;
use serde_json::json;
use watchdog::{Config, check, metric_line};

const TOKEN: &str = "00watchdog-okta-token";

async fn setup() -> (MotoServer, FakeOkta, aws_sdk_ssm::Client, EventBridgeBuses) {
    let moto = MotoServer::start().unwrap();
    let aws = moto.sdk_config().await;
    let okta = FakeOkta::start(TOKEN, Some(aws.clone())).await.unwrap();
    let ssm = aws_sdk_ssm::Client::new(&aws);
    ssm.put_parameter()
        .name("/okta-relay/okta-api-token")
        .value(TOKEN)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .unwrap();
    let buses = EventBridgeBuses::new(aws_sdk_eventbridge::Client::new(&aws));
    (moto, okta, ssm, buses)
}

fn config(okta: &FakeOkta) -> Config {
    Config::from_env(|name| {
        Some(match name {
            "OKTA_ORG_URL" => "https://example.okta.com".into(),
            "ACCOUNT_ID" => "123456789012".into(),
            "EVENT_SOURCE_NAME" => "okta-relay".into(),
            "AWS_REGION" => REGION.into(),
            "OKTA_API_TOKEN_PARAMETER" => "/okta-relay/okta-api-token".into(),
            "OKTA_API_BASE_URL" => okta.base_url(),
            _ => return None,
        })
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_okta_deactivated_is_activated_again_with_the_outage_start() {
    let (_moto, okta, ssm, buses) = setup().await;
    let config = config(&okta);
    let missing = check(&config, &ssm, &buses).await.unwrap();
    assert_eq!(missing.health, StreamHealth::Missing);
    let settings =
        json!({"accountId": "123456789012", "eventSourceName": "okta-relay", "region": REGION});
    let id = okta.seed_stream("okta-relay", settings, true);

    let healthy = check(&config, &ssm, &buses).await.unwrap();
    assert_eq!(healthy.health, StreamHealth::Active);
    assert!(metric_line("wd", &healthy, 1).contains("\"StreamReactivated\":0"));

    okta.deactivate_out_of_band("okta-relay");
    let repaired = check(&config, &ssm, &buses).await.unwrap();
    assert_eq!(repaired.health, StreamHealth::Reactivated);
    assert_eq!(repaired.log_stream_id.as_deref(), Some(id.as_str()));
    assert!(
        repaired
            .inactive_since
            .as_deref()
            .is_some_and(|since| since.starts_with("20")),
        "{repaired:?}"
    );
    assert_eq!(okta.streams()[0].2, "ACTIVE");
    let line: serde_json::Value = serde_json::from_str(&metric_line("wd", &repaired, 1)).unwrap();
    assert_eq!(line["StreamReactivated"], 1);
    assert_eq!(
        line["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "OktaRelay"
    );
    assert_eq!(
        check(&config, &ssm, &buses).await.unwrap().health,
        StreamHealth::Active
    );
    assert_eq!(okta.violations(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn okta_refusing_the_token_fails_the_check_without_printing_it() {
    let (_moto, okta, ssm, buses) = setup().await;
    ssm.put_parameter()
        .name("/okta-relay/okta-api-token")
        .value("00revoked")
        .overwrite(true)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .unwrap();
    let error = check(&config(&okta), &ssm, &buses).await.unwrap_err();
    assert!(error.contains("Okta returned 401"), "{error}");
    assert!(!error.contains("00revoked"), "{error}");
}

#[test]
fn configuration_errors_name_the_variable() {
    let error = Config::from_env(|name| {
        (name == "OKTA_ORG_URL").then(|| "https://example.okta.com".into())
    })
    .unwrap_err();
    assert!(error.contains("ACCOUNT_ID is not set"), "{error}");
}
