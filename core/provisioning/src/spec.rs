//! What to provision: the Okta log stream and the EventBridge rule and target, checked against
//! Okta's and EventBridge's rules before any API is called.

use std::time::Duration;

use event_pattern::{Limits, Pattern};
use okta::{AwsSettings, OrgUrl, PartnerEventSource, SettingsError};
use serde::{Deserialize, Deserializer};

/// The inputs as CloudFormation (`ResourceProperties`), a CLI file or flags give them.
/// CloudFormation passes every scalar as a string, so numbers are read from either.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct SpecInput {
    pub org_url: String,
    pub log_stream_name: String,
    pub event_source_name: String,
    pub account_id: String,
    pub region: String,
    pub rule_name: String,
    /// The rule's event pattern, as JSON text or as an object.
    pub event_pattern: serde_json::Value,
    #[serde(default)]
    pub rule_description: Option<String>,
    pub target_arn: String,
    #[serde(default)]
    pub target_id: Option<String>,
    #[serde(default)]
    pub dead_letter_queue_arn: Option<String>,
    #[serde(default, deserialize_with = "optional_number")]
    pub maximum_retry_attempts: Option<u32>,
    #[serde(default, deserialize_with = "optional_number")]
    pub maximum_event_age_in_seconds: Option<u32>,
    #[serde(default, deserialize_with = "optional_number")]
    pub partner_source_wait_seconds: Option<u32>,
    /// `AdoptExisting`: take over a stream and bus that another owner, or nobody, made
    /// ([`crate::Owner`]); `"true"` or `"false"` (the default).
    #[serde(default, deserialize_with = "optional_bool")]
    pub adopt_existing: Option<bool>,
    /// Added by CloudFormation to every custom resource's properties; not an input.
    #[serde(default)]
    pub service_token: Option<String>,
    /// Added by CloudFormation when the template sets a custom resource timeout.
    #[serde(default)]
    pub service_timeout: Option<serde_json::Value>,
}

/// The validated desired state.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub org: OrgUrl,
    pub log_stream_name: String,
    pub settings: AwsSettings,
    pub partner_source: PartnerEventSource,
    pub rule: RuleSpec,
    /// How long to wait for Okta's partner event source to appear in EventBridge.
    pub partner_source_wait: Duration,
    /// Take over what belongs to another owner, or to nobody ([`crate::Owner`]).
    pub adopt_existing: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RuleSpec {
    pub name: String,
    /// The pattern as compact JSON; compared with what EventBridge holds as parsed JSON.
    pub pattern: String,
    pub description: String,
    pub target: TargetSpec,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetSpec {
    pub id: String,
    pub arn: String,
    pub dead_letter_arn: Option<String>,
    pub maximum_retry_attempts: u32,
    pub maximum_event_age_seconds: u32,
}

pub const DEFAULT_TARGET_ID: &str = "okta-relay";
pub const DEFAULT_RULE_DESCRIPTION: &str = "Okta System Log events for okta-relay";
/// EventBridge's own defaults for a target's retry policy.
pub const DEFAULT_MAXIMUM_RETRY_ATTEMPTS: u32 = 185;
pub const DEFAULT_MAXIMUM_EVENT_AGE_SECONDS: u32 = 86_400;
/// Okta usually creates the partner source within seconds; two minutes leaves room inside a
/// custom resource's Lambda timeout.
pub const DEFAULT_PARTNER_SOURCE_WAIT: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpecError {
    #[error("{field} is required")]
    Missing { field: &'static str },
    #[error("OrgUrl: {0}")]
    OrgUrl(String),
    #[error("{0}")]
    Settings(#[from] SettingsError),
    #[error(
        "RuleName `{0}` must be 1 to 64 characters of letters, digits, `.`, `_` and `-` (EventBridge's rule name)"
    )]
    RuleName(String),
    #[error("TargetId `{0}` must be 1 to 64 characters of letters, digits, `.`, `_` and `-`")]
    TargetId(String),
    #[error("EventPattern is not a valid EventBridge pattern: {0}")]
    EventPattern(String),
    #[error(
        "TargetArn `{0}` is not an SQS queue ARN (arn:aws:sqs:<region>:<account>:<name>): the rule's target is the relay's inbox queue (the stack's InboxQueue)"
    )]
    TargetArn(String),
    #[error(
        "DeadLetterQueueArn `{0}` is not an SQS queue ARN (arn:aws:sqs:<region>:<account>:<name>)"
    )]
    DeadLetterArn(String),
    #[error("{field} {value} is outside EventBridge's range {min}..={max}")]
    OutOfRange {
        field: &'static str,
        value: u32,
        min: u32,
        max: u32,
    },
}

impl SpecInput {
    /// Checks every input and builds the desired state; the first broken rule is reported with
    /// the input's name so it can be fixed in the template, file or flag that set it.
    pub fn validate(&self) -> Result<Spec, SpecError> {
        let required = [
            ("OrgUrl", &self.org_url),
            ("LogStreamName", &self.log_stream_name),
            ("EventSourceName", &self.event_source_name),
            ("AccountId", &self.account_id),
            ("Region", &self.region),
            ("RuleName", &self.rule_name),
            ("TargetArn", &self.target_arn),
        ];
        if let Some((field, _)) = required.iter().find(|(_, value)| value.trim().is_empty()) {
            return Err(SpecError::Missing { field });
        }
        let org =
            OrgUrl::parse(&self.org_url).map_err(|error| SpecError::OrgUrl(error.to_string()))?;
        let settings = AwsSettings {
            account_id: self.account_id.trim().into(),
            event_source_name: self.event_source_name.trim().into(),
            region: self.region.trim().into(),
        };
        settings.validate()?;
        let partner_source = PartnerEventSource::for_stream(&org, &settings.event_source_name)
            .ok_or_else(|| SettingsError::EventSourceName(settings.event_source_name.clone()))?;
        Ok(Spec {
            org,
            log_stream_name: self.log_stream_name.trim().into(),
            settings,
            partner_source,
            rule: self.rule()?,
            partner_source_wait: self
                .partner_source_wait_seconds
                .map_or(DEFAULT_PARTNER_SOURCE_WAIT, |s| {
                    Duration::from_secs(s.into())
                }),
            adopt_existing: self.adopt_existing.unwrap_or(false),
        })
    }

    fn rule(&self) -> Result<RuleSpec, SpecError> {
        if !is_eventbridge_name(&self.rule_name) {
            return Err(SpecError::RuleName(self.rule_name.clone()));
        }
        Ok(RuleSpec {
            name: self.rule_name.clone(),
            pattern: pattern_text(&self.event_pattern)?,
            description: self
                .rule_description
                .clone()
                .unwrap_or_else(|| DEFAULT_RULE_DESCRIPTION.into()),
            target: self.target()?,
        })
    }

    fn target(&self) -> Result<TargetSpec, SpecError> {
        let id = self
            .target_id
            .clone()
            .unwrap_or_else(|| DEFAULT_TARGET_ID.into());
        if !is_eventbridge_name(&id) {
            return Err(SpecError::TargetId(id));
        }
        if !is_arn_of(&self.target_arn, "sqs", None) {
            return Err(SpecError::TargetArn(self.target_arn.clone()));
        }
        let dead_letter_arn = self
            .dead_letter_queue_arn
            .clone()
            .filter(|arn| !arn.trim().is_empty());
        if let Some(arn) = &dead_letter_arn
            && !is_arn_of(arn, "sqs", None)
        {
            return Err(SpecError::DeadLetterArn(arn.clone()));
        }
        Ok(TargetSpec {
            id,
            arn: self.target_arn.clone(),
            dead_letter_arn,
            maximum_retry_attempts: in_range(
                "MaximumRetryAttempts",
                self.maximum_retry_attempts,
                DEFAULT_MAXIMUM_RETRY_ATTEMPTS,
                0..=185,
            )?,
            maximum_event_age_seconds: in_range(
                "MaximumEventAgeInSeconds",
                self.maximum_event_age_in_seconds,
                DEFAULT_MAXIMUM_EVENT_AGE_SECONDS,
                60..=86_400,
            )?,
        })
    }
}

fn pattern_text(pattern: &serde_json::Value) -> Result<String, SpecError> {
    let value = match pattern {
        serde_json::Value::String(text) => event_pattern::strict_json::from_str(text)
            .map_err(|error| SpecError::EventPattern(format!("not JSON: {error}")))?,
        serde_json::Value::Null => {
            return Err(SpecError::Missing {
                field: "EventPattern",
            });
        }
        other => other.clone(),
    };
    Pattern::from_value(&value, Limits::EVENTBRIDGE_RULE)
        .map_err(|error| SpecError::EventPattern(error.to_string()))?;
    Ok(value.to_string())
}

fn in_range(
    field: &'static str,
    value: Option<u32>,
    default: u32,
    range: std::ops::RangeInclusive<u32>,
) -> Result<u32, SpecError> {
    let value = value.unwrap_or(default);
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(SpecError::OutOfRange {
            field,
            value,
            min: *range.start(),
            max: *range.end(),
        })
    }
}

/// EventBridge's rule and target id rule: 1 to 64 of `[.\-_A-Za-z0-9]`.
fn is_eventbridge_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-'))
}

/// `arn:<partition>:<service>:<region>:<12-digit account>:<resource>`.
fn is_arn_of(arn: &str, service: &str, resource_prefix: Option<&str>) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [scheme, partition, arn_service, region, account, resource] = parts[..] else {
        return false;
    };
    scheme == "arn"
        && partition.starts_with("aws")
        && arn_service == service
        && !region.is_empty()
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && !resource.is_empty()
        && resource_prefix.is_none_or(|prefix| resource.starts_with(prefix))
}

fn optional_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u32>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumberOrString {
        Number(u32),
        Text(String),
    }
    match Option::<NumberOrString>::deserialize(deserializer)? {
        None => Ok(None),
        Some(NumberOrString::Number(number)) => Ok(Some(number)),
        Some(NumberOrString::Text(text)) if text.trim().is_empty() => Ok(None),
        Some(NumberOrString::Text(text)) => text
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("`{text}` is not a whole number"))),
    }
}

/// CloudFormation passes a template's booleans as the strings `"true"` and `"false"`.
fn optional_bool<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<bool>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum BoolOrString {
        Bool(bool),
        Text(String),
    }
    match Option::<BoolOrString>::deserialize(deserializer)? {
        None => Ok(None),
        Some(BoolOrString::Bool(value)) => Ok(Some(value)),
        Some(BoolOrString::Text(text)) => match text.trim().to_ascii_lowercase().as_str() {
            "" => Ok(None),
            "true" => Ok(Some(true)),
            "false" => Ok(Some(false)),
            _ => Err(serde::de::Error::custom(format!(
                "`{text}` is not true or false"
            ))),
        },
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    pub(crate) fn input() -> SpecInput {
        serde_json::from_value(json!({
            "OrgUrl": "https://example.okta.com",
            "LogStreamName": "okta-relay",
            "EventSourceName": "okta-relay",
            "AccountId": "123456789012",
            "Region": "us-east-1",
            "RuleName": "okta-relay",
            "EventPattern": "{\"detail\":{\"eventType\":[{\"prefix\":\"user.\"}]}}",
            "TargetArn": "arn:aws:sqs:us-east-1:123456789012:okta-relay-inbox",
            "DeadLetterQueueArn": "arn:aws:sqs:us-east-1:123456789012:dlq",
            "MaximumRetryAttempts": "10",
            "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:provisioner"
        }))
        .unwrap()
    }

    #[test]
    fn reads_cloudformation_properties_with_numbers_as_strings() {
        let spec = input().validate().unwrap();
        assert_eq!(
            spec.partner_source.to_string(),
            "aws.partner/okta.com/example/okta-relay"
        );
        assert_eq!(spec.rule.target.maximum_retry_attempts, 10);
        assert_eq!(spec.rule.target.maximum_event_age_seconds, 86_400);
        assert_eq!(
            spec.rule.pattern,
            r#"{"detail":{"eventType":[{"prefix":"user."}]}}"#
        );
    }

    #[test]
    fn names_the_broken_input() {
        type Breakage = fn(&mut SpecInput);
        let cases: Vec<(Breakage, &str)> = vec![
            (|i| i.org_url = "http://example.okta.com".into(), "OrgUrl"),
            (
                |i| i.log_stream_name = " ".into(),
                "LogStreamName is required",
            ),
            (|i| i.account_id = "1234".into(), "12 digits"),
            (|i| i.region = "mars-1".into(), "mars-1"),
            (|i| i.event_source_name = "a/b".into(), "event source name"),
            (|i| i.rule_name = "has space".into(), "RuleName"),
            (
                |i| i.event_pattern = json!("{"),
                "EventPattern is not a valid",
            ),
            (|i| i.event_pattern = json!({"detail": 1}), "EventPattern"),
            (
                |i| i.target_arn = "arn:aws:lambda:us-east-1:123456789012:function:relay".into(),
                "TargetArn",
            ),
            (
                |i| i.dead_letter_queue_arn = Some("queue".into()),
                "DeadLetterQueueArn",
            ),
            (
                |i| i.maximum_retry_attempts = Some(186),
                "MaximumRetryAttempts 186",
            ),
            (
                |i| i.maximum_event_age_in_seconds = Some(59),
                "MaximumEventAgeInSeconds",
            ),
        ];
        for (breaks, expected) in cases {
            let mut input = input();
            breaks(&mut input);
            let error = input.validate().unwrap_err().to_string();
            assert!(error.contains(expected), "{expected}: {error}");
        }
    }

    #[test]
    fn refuses_unknown_inputs_so_typos_are_not_ignored() {
        let mut value = serde_json::json!({"MaximumEventAgeSeconds": 60});
        value["OrgUrl"] = json!("https://example.okta.com");
        let error = serde_json::from_value::<SpecInput>(value).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("unknown field `MaximumEventAgeSeconds`"),
            "{error}"
        );
    }

    #[test]
    fn refuses_a_number_that_is_not_one() {
        let mut value = serde_json::to_value(json!({"MaximumRetryAttempts": "ten"})).unwrap();
        value["OrgUrl"] = json!("https://example.okta.com");
        let error = serde_json::from_value::<SpecInput>(value).unwrap_err();
        assert!(
            error.to_string().contains("`ten` is not a whole number"),
            "{error}"
        );
    }
}
