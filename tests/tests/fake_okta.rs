#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

//! The fake Okta holds requests to Okta's contract: what breaks it is refused the way Okta
//! refuses it and recorded as a violation, so the provisioning tests' "no violations" means
//! something.

use okta_relay_e2e::fake_okta::FakeOkta;
use okta_relay_e2e::okta_contract::{CONTRACT_FILE, Contract, fixture_path};
use serde_json::{Value, json};

const TOKEN: &str = "00contract-test";

async fn send(
    okta: &FakeOkta,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .request(method, format!("{}{path}", okta.base_url()))
        .header("authorization", format!("SSWS {TOKEN}"));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

fn valid_stream() -> Value {
    json!({
        "type": "aws_eventbridge",
        "name": "contract",
        "settings": {"accountId": "123456789012", "eventSourceName": "contract", "region": "us-east-2"}
    })
}

#[tokio::test]
async fn requests_that_break_the_contract_are_refused_and_recorded() {
    let okta = FakeOkta::start(TOKEN, None).await.unwrap();
    let mut read_only_id = valid_stream();
    read_only_id["id"] = json!("0oa-chosen-by-client");
    let mut bad_name = valid_stream();
    bad_name["settings"]["eventSourceName"] = json!("has spaces");
    let mut bad_region = valid_stream();
    bad_region["settings"]["region"] = json!("af-south-1");
    let mut no_settings = valid_stream();
    no_settings.as_object_mut().unwrap().remove("settings");
    let post = reqwest::Method::POST;
    let cases = [
        (
            post.clone(),
            "/api/v1/logStreams",
            Some(read_only_id),
            "body: ",
        ),
        (
            post.clone(),
            "/api/v1/logStreams",
            Some(bad_name),
            "/settings/eventSourceName",
        ),
        (
            post.clone(),
            "/api/v1/logStreams",
            Some(bad_region),
            "/settings/region",
        ),
        (
            post.clone(),
            "/api/v1/logStreams",
            Some(no_settings),
            "settings",
        ),
        (
            post.clone(),
            "/api/v1/logStreams",
            None,
            "the required JSON body is missing",
        ),
        (
            reqwest::Method::GET,
            "/api/v1/logStreams?limit=500",
            None,
            "query parameter `limit`",
        ),
        (
            reqwest::Method::GET,
            "/api/v1/logStreams?page=2",
            None,
            "`page` is not in the contract",
        ),
    ];
    for (method, path, body, expected) in cases {
        let before = okta.violations().len();
        let (status, answer) = send(&okta, method, path, body).await;
        assert_eq!(status, 400, "{path}: {answer}");
        assert_eq!(answer["errorCode"], "E0000001");
        let violations = okta.violations();
        assert!(
            violations[before..].iter().any(|v| v.contains(expected)),
            "expected `{expected}` among {:?}",
            &violations[before..]
        );
    }
    let (status, _) = send(&okta, reqwest::Method::GET, "/api/v1/users", None).await;
    assert_eq!(status, 404);
    assert!(
        okta.violations()
            .last()
            .unwrap()
            .contains("is not an operation of the contract")
    );
    assert!(okta.streams().is_empty(), "nothing invalid was stored");

    let before = okta.violations().len();
    let (status, created) = send(&okta, post, "/api/v1/logStreams", Some(valid_stream())).await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["status"], "ACTIVE");
    assert_eq!(
        okta.violations().len(),
        before,
        "the valid request added none"
    );
}

#[test]
fn the_fixture_is_okta_shared_contract() {
    let shared = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/okta")
        .join(CONTRACT_FILE);
    let Ok(shared) = std::fs::read(&shared) else {
        return; // A clean clone without ../shared: the fixture stands on its own.
    };
    assert!(
        shared == std::fs::read(fixture_path()).unwrap(),
        "tests/fixtures/okta is stale: copy ../shared/okta/{CONTRACT_FILE}"
    );
}

#[test]
fn write_only_fields_are_optional_in_responses_and_never_sent_back() {
    let contract = Contract::load().unwrap();
    let list = contract.operation("GET", "/api/v1/logStreams").unwrap();
    let splunk = |settings: Value| {
        json!([{"id": "0oa9", "type": "splunk_cloud_logstreaming", "name": "siem",
                "status": "ACTIVE", "created": "2026-11-25T10:00:00.000Z",
                "lastUpdated": "2026-11-25T10:00:00.000Z", "settings": settings,
                "_links": {"self": {"href": "https://example.okta.com/api/v1/logStreams/0oa9", "method": "GET"}}}])
        .to_string()
    };
    let without_token = splunk(json!({"edition": "aws", "host": "acme.splunkcloud.com"}));
    assert_eq!(
        contract.check_response(&list, 200, without_token.as_bytes()),
        Vec::<String>::new()
    );
    let with_token = splunk(json!({"edition": "aws", "host": "acme.splunkcloud.com",
                                   "token": "11111111-1111-2222-2222-222222222222"}));
    assert!(
        !contract
            .check_response(&list, 200, with_token.as_bytes())
            .is_empty(),
        "the token is write-only"
    );
}
