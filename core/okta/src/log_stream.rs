//! Okta log streams of type `aws_eventbridge`, as the Log Streams API sends and receives them
//! (`../shared/okta/okta-management-logstreams-logs.openapi.yaml`, schemas `LogStream`,
//! `LogStreamSettingsAws`), and the rules Okta applies to their settings.

use serde::{Deserialize, Serialize};

/// The `type` of a log stream that delivers to an EventBridge partner event source.
pub const AWS_EVENTBRIDGE: &str = "aws_eventbridge";

/// The regions Okta can stream to (`AwsRegion` in Okta's contract).
pub const OKTA_REGIONS: &[&str] = &[
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ca-central-1",
    "eu-central-1",
    "eu-north-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum LogStreamStatus {
    Active,
    Inactive,
}

/// `settings` of an `aws_eventbridge` log stream. Okta marks all three write-once: changing any
/// of them means a new log stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AwsSettings {
    pub account_id: String,
    pub event_source_name: String,
    pub region: String,
}

/// A log stream as Okta returns it. Streams of other types have other settings, so `settings`
/// stays optional here and [`LogStream::aws_settings`] reads it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogStream {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub stream_type: String,
    pub status: LogStreamStatus,
    #[serde(default)]
    pub settings: Option<serde_json::Value>,
    #[serde(default)]
    pub created: Option<String>,
    #[serde(default)]
    pub last_updated: Option<String>,
}

impl LogStream {
    /// The EventBridge settings, when this is an `aws_eventbridge` stream.
    pub fn aws_settings(&self) -> Option<AwsSettings> {
        if self.stream_type != AWS_EVENTBRIDGE {
            return None;
        }
        serde_json::from_value(self.settings.clone()?).ok()
    }
}

/// The body of a create (`POST /api/v1/logStreams`) or replace (`PUT /api/v1/logStreams/{id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogStreamRequest {
    #[serde(rename = "type")]
    pub stream_type: &'static str,
    pub name: String,
    pub settings: AwsSettings,
}

impl LogStreamRequest {
    pub fn aws(name: String, settings: AwsSettings) -> Self {
        Self {
            stream_type: AWS_EVENTBRIDGE,
            name,
            settings,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("AWS account id `{0}` must be exactly 12 digits")]
    AccountId(String),
    #[error(
        "event source name `{0}` must be 1 to 75 characters of letters, digits, `.`, `_` and `-`"
    )]
    EventSourceName(String),
    #[error("Okta cannot stream to region `{0}`; it supports: {regions}", regions = OKTA_REGIONS.join(", "))]
    Region(String),
    #[error("log stream name must not be empty")]
    EmptyName,
}

impl AwsSettings {
    /// Checks the settings against Okta's contract before anything is sent, so a typo fails in
    /// `plan` with the field named rather than as Okta's generic validation error.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let account_ok =
            self.account_id.len() == 12 && self.account_id.bytes().all(|b| b.is_ascii_digit());
        if !account_ok {
            return Err(SettingsError::AccountId(self.account_id.clone()));
        }
        if !is_event_source_name(&self.event_source_name) {
            return Err(SettingsError::EventSourceName(
                self.event_source_name.clone(),
            ));
        }
        if !OKTA_REGIONS.contains(&self.region.as_str()) {
            return Err(SettingsError::Region(self.region.clone()));
        }
        Ok(())
    }
}

/// Okta's rule for `eventSourceName`: 1 to 75 of `[A-Za-z0-9._-]`. (The published contract's
/// pattern omits the repetition; its min/max lengths say what is meant.)
pub fn is_event_source_name(name: &str) -> bool {
    (1..=75).contains(&name.len())
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(account: &str, name: &str, region: &str) -> AwsSettings {
        AwsSettings {
            account_id: account.into(),
            event_source_name: name.into(),
            region: region.into(),
        }
    }

    #[test]
    fn accepts_okta_valid_settings() {
        assert_eq!(
            settings("123456789012", "okta-relay.prod_1", "eu-west-1").validate(),
            Ok(())
        );
    }

    #[test]
    fn names_the_field_that_breaks_the_contract() {
        let cases = [
            (settings("12345678901", "x", "us-east-1"), "12 digits"),
            (settings("12345678901a", "x", "us-east-1"), "12 digits"),
            (
                settings("123456789012", "", "us-east-1"),
                "event source name",
            ),
            (
                settings("123456789012", "a b", "us-east-1"),
                "event source name",
            ),
            (
                settings("123456789012", &"a".repeat(76), "us-east-1"),
                "event source name",
            ),
            (settings("123456789012", "x", "af-south-1"), "af-south-1"),
        ];
        for (settings, expected) in cases {
            let error = settings.validate().unwrap_err().to_string();
            assert!(error.contains(expected), "{error}");
        }
    }

    #[test]
    fn reads_okta_example_response() {
        let stream: LogStream = serde_json::from_value(serde_json::json!({
            "id": "0oa1orqUGCIoCGNxf0g4", "type": "aws_eventbridge", "name": "Example",
            "lastUpdated": "2023-03-24T21:02:43.000Z", "created": "2023-03-24T21:02:43.000Z",
            "status": "ACTIVE",
            "settings": {"accountId": "123456789012", "eventSourceName": "your-event-source-name",
                         "region": "us-east-2"},
            "_links": {"self": {"href": "https://x/api/v1/logStreams/0oa1", "method": "GET"}}
        }))
        .unwrap();
        assert_eq!(stream.status, LogStreamStatus::Active);
        assert_eq!(
            stream.aws_settings(),
            Some(settings(
                "123456789012",
                "your-event-source-name",
                "us-east-2"
            ))
        );
    }
}
