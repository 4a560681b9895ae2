#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

//! The suite's Runtime API against a real `lambda_runtime` process (`baseline-lambda`, which
//! echoes its event): responses, errors and the first `next` are seen as Lambda would see them.

use std::process::{Command, Stdio};
use std::time::Duration;

use okta_relay_e2e::runtime_api::{Outcome, RuntimeApi};

#[tokio::test]
async fn a_lambda_runtime_process_answers_through_it() {
    let api = RuntimeApi::start().await.unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_baseline-lambda"))
        .envs(api.lambda_env("baseline"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    let echoed = api
        .invoke(r#"{"hello":"lambda"}"#, Duration::from_secs(10))
        .await;
    assert_eq!(echoed, Outcome::Response(r#"{"hello":"lambda"}"#.into()));
    assert!(api.first_next().is_some());

    let Outcome::Error(body) = api.invoke("not json", Duration::from_secs(10)).await else {
        panic!("expected an error")
    };
    let error: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(
        error["errorMessage"]
            .as_str()
            .unwrap()
            .contains("failed to deserialize"),
        "{error}"
    );
    assert!(api.init_error().is_none());

    child.kill().unwrap();
    child.wait().unwrap();
}
