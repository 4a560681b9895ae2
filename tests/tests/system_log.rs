#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

//! The Okta client reads a System Log window page by page from the fake Okta, whose events and
//! answers are checked against Okta's `LogEvent` schema, and waits out a spent rate limit rather
//! than meeting a 429.

use chrono::{DateTime, Duration, Utc};
use okta_api::OktaClient;
use okta_relay_e2e::fake_okta::FakeOkta;
use secrecy::SecretString;
use serde_json::Value;

const TOKEN: &str = "00system-log-token";

fn sample_events(count: usize, start: DateTime<Utc>) -> Vec<Value> {
    okta_relay_e2e::system_log::events("log", count, start, Duration::seconds(60))
}

#[tokio::test(flavor = "multi_thread")]
async fn reads_a_window_across_pages_within_the_rate_limit() {
    let okta = FakeOkta::start(TOKEN, None).await.unwrap();
    let start = DateTime::parse_from_rfc3339("2026-11-25T08:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    okta.seed_log_events(sample_events(30, start));
    okta.set_log_rate_limit(2, 2);
    let client =
        OktaClient::with_base_url(okta.base_url().parse().unwrap(), &SecretString::from(TOKEN))
            .unwrap();

    // Events 5..=24 fall in the window: 20 events, pages of 8.
    let mut url = Some(client.system_log_start(
        start + Duration::minutes(5),
        start + Duration::minutes(25),
        8,
    ));
    let mut uuids = Vec::new();
    let mut pages = 0;
    while let Some(next) = url {
        let page = client.system_log_page(&next).await.unwrap();
        uuids.extend(
            page.events
                .iter()
                .map(|e| e["uuid"].as_str().unwrap().to_string()),
        );
        url = page.next;
        pages += 1;
    }
    let expected: Vec<String> = (5..25).map(|i| format!("log-{i:04}")).collect();
    assert_eq!(
        uuids, expected,
        "the window's events, oldest first, once each"
    );
    assert_eq!(pages, 3);
    let statuses: Vec<u16> = okta.requests().iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [200, 200, 200],
        "the client waited for the reset instead of meeting a 429"
    );
    assert_eq!(okta.violations(), Vec::<String>::new());
}
