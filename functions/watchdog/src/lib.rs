//! The watchdog Lambda: every few minutes, checks that Okta still streams (Okta deactivates a log
//! stream when its target stops acknowledging and sends nothing until it is activated), activates
//! it again if not, and reports the outage window with a log line and a metric an alarm catches.

use aws_adapters::{EventBridgeBuses, read_secret};
use okta::{AwsSettings, OrgUrl, PartnerEventSource};
use okta_api::OktaClient;
use provisioning::{StreamHealth, Watch, watch};
use serde_json::json;

/// Metrics in namespace `OktaRelay`, dimension `FunctionName`, that the template's alarms watch.
pub const REACTIVATED_METRIC: &str = "StreamReactivated";
pub const MISSING_METRIC: &str = "StreamMissing";

/// What to watch, from the environment template.yaml sets.
#[derive(Debug, Clone)]
pub struct Config {
    pub org: OrgUrl,
    pub settings: AwsSettings,
    pub partner_source: PartnerEventSource,
    pub api_token_parameter: String,
    /// Calls Okta here instead of the org URL: a proxy, or a local fake in tests.
    pub okta_api_base_url: Option<url::Url>,
}

impl Config {
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let required = |name: &str| {
            var(name)
                .filter(|value| !value.trim().is_empty())
                .ok_or_else(|| format!("{name} is not set (template.yaml sets it)"))
        };
        let org =
            OrgUrl::parse(&required("OKTA_ORG_URL")?).map_err(|e| format!("OKTA_ORG_URL: {e}"))?;
        let settings = AwsSettings {
            account_id: required("ACCOUNT_ID")?,
            event_source_name: required("EVENT_SOURCE_NAME")?,
            region: required("AWS_REGION")?,
        };
        settings.validate().map_err(|error| error.to_string())?;
        let partner_source = PartnerEventSource::for_stream(&org, &settings.event_source_name)
            .ok_or_else(|| {
                format!(
                    "EVENT_SOURCE_NAME `{}` is not a valid event source name",
                    settings.event_source_name
                )
            })?;
        let okta_api_base_url = var("OKTA_API_BASE_URL")
            .filter(|v| !v.trim().is_empty())
            .map(|v| url::Url::parse(&v).map_err(|e| format!("OKTA_API_BASE_URL `{v}`: {e}")))
            .transpose()?;
        Ok(Self {
            org,
            settings,
            partner_source,
            api_token_parameter: required("OKTA_API_TOKEN_PARAMETER")?,
            okta_api_base_url,
        })
    }
}

/// One check: the token from SSM, then [`provisioning::watch`].
pub async fn check(
    config: &Config,
    ssm: &aws_sdk_ssm::Client,
    buses: &EventBridgeBuses,
) -> Result<Watch, String> {
    let token = read_secret(ssm, &config.api_token_parameter, "the Okta API token").await?;
    let okta = OktaClient::new(&config.org, config.okta_api_base_url.as_ref(), &token)
        .map_err(|error| error.to_string())?;
    watch(
        &config.settings,
        &config.partner_source.to_string(),
        &okta,
        buses,
    )
    .await
    .map_err(|error| error.to_string())
}

/// The check's outcome as one structured log line.
pub fn log_outcome(watch: &Watch, now: &str) {
    match watch.health {
        StreamHealth::Active => tracing::info!(
            outcome = "stream_active",
            log_stream_id = watch.log_stream_id.as_deref().unwrap_or_default(),
            partner_event_source_state = watch
                .partner_event_source_state
                .as_deref()
                .unwrap_or("missing"),
            "Okta is streaming"
        ),
        StreamHealth::Reactivated => tracing::error!(
            outcome = "stream_reactivated",
            log_stream_id = watch.log_stream_id.as_deref().unwrap_or_default(),
            outage_since = watch.inactive_since.as_deref().unwrap_or("unknown"),
            outage_until = now,
            "Okta had deactivated the log stream; activated it again. Events in the outage window \
             were not streamed: backfill them (okta-relay backfill --since --until)"
        ),
        StreamHealth::Missing => tracing::error!(
            outcome = "stream_missing",
            "no Okta log stream streams to this account and event source; re-run the deployment"
        ),
    }
}

/// One Embedded Metric Format line with [`REACTIVATED_METRIC`] and [`MISSING_METRIC`] (1 or 0).
pub fn metric_line(function_name: &str, watch: &Watch, timestamp_ms: u128) -> String {
    json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": "OktaRelay",
                "Dimensions": [["FunctionName"]],
                "Metrics": [
                    {"Name": REACTIVATED_METRIC, "Unit": "Count"},
                    {"Name": MISSING_METRIC, "Unit": "Count"}
                ]
            }]
        },
        "FunctionName": function_name,
        REACTIVATED_METRIC: u8::from(watch.health == StreamHealth::Reactivated),
        MISSING_METRIC: u8::from(watch.health == StreamHealth::Missing),
    })
    .to_string()
}

/// The watchdog's timeout in template.yaml.
pub const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);
