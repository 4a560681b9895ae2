//! The work behind each custom resource request: read the Okta API token, then apply or destroy.

use std::collections::HashMap;

use aws_adapters::{EventBridgeBuses, read_secret};
use okta_api::OktaClient;
use provisioning::{
    EventBuses, LogStreams, Provisioned, Spec, SpecInput, apply, destroy, retire_rule,
};
use serde_json::Value;

use crate::custom_resource::{Answer, FAILED_CREATE_PREFIX, Request, RequestType};

/// Where the provisioner finds its Okta API token and, in tests, Okta itself.
#[derive(Debug, Clone)]
pub struct Config {
    /// SSM SecureString parameter holding the Okta API token (SSWS).
    pub api_token_parameter: String,
    /// Calls Okta here instead of the org URL: a proxy, or a local fake in tests.
    pub okta_api_base_url: Option<url::Url>,
}

impl Config {
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let api_token_parameter = var("OKTA_API_TOKEN_PARAMETER")
            .filter(|v| !v.trim().is_empty())
            .ok_or("OKTA_API_TOKEN_PARAMETER is not set: name the SSM SecureString parameter holding the Okta API token")?;
        let okta_api_base_url = var("OKTA_API_BASE_URL")
            .filter(|v| !v.trim().is_empty())
            .map(|v| {
                url::Url::parse(&v)
                    .map_err(|error| format!("OKTA_API_BASE_URL `{v}` is not a URL: {error}"))
            })
            .transpose()?;
        Ok(Self {
            api_token_parameter,
            okta_api_base_url,
        })
    }
}

/// The AWS side, built once per container.
pub struct Aws {
    pub ssm: aws_sdk_ssm::Client,
    pub buses: EventBridgeBuses,
}

/// Handles one request: parse the properties, reach Okta with the token from SSM, converge.
pub async fn run(
    request: Request,
    config: Result<Config, String>,
    aws: &Aws,
) -> Result<Answer, String> {
    let config = config?;
    match request.request_type {
        RequestType::Delete => {
            let Ok(spec) = spec_of(&request.resource_properties) else {
                // Create validates before touching anything, so invalid properties never made
                // anything that could need deleting.
                tracing::warn!(physical_resource_id = ?request.physical_resource_id, "Delete with invalid properties: nothing to delete");
                return Ok(unchanged(&request));
            };
            let okta = okta_client(&config, &spec, aws).await?;
            delete(&request, &spec, &okta, &aws.buses).await
        }
        RequestType::Create | RequestType::Update => {
            let spec = spec_of(&request.resource_properties)?;
            let okta = okta_client(&config, &spec, aws).await?;
            create_or_update(&request, &spec, &okta, &aws.buses).await
        }
    }
}

pub async fn create_or_update(
    request: &Request,
    spec: &Spec,
    okta: &impl LogStreams,
    aws: &impl EventBuses,
) -> Result<Answer, String> {
    let old = request
        .old_resource_properties
        .as_ref()
        .and_then(|old| spec_of(old).ok());
    // Okta's settings are write-once: changing one means a new stream, so a new physical id,
    // and CloudFormation then deletes the old resource with its old properties.
    let replacing = old
        .as_ref()
        .map(|old| &old.settings)
        .filter(|settings| **settings != spec.settings);
    let provisioned = apply(spec, okta, aws, replacing)
        .await
        .map_err(|error| error.to_string())?;
    if let Some(old) = old
        .as_ref()
        .filter(|old| replacing.is_none() && old.rule.name != spec.rule.name)
    {
        retire_rule(old, aws)
            .await
            .map_err(|error| error.to_string())?;
    }
    for change in &provisioned.changes {
        tracing::info!(change = %change, "applied");
    }
    Ok(Answer {
        physical_resource_id: provisioned.log_stream_id.clone(),
        data: data(&provisioned),
    })
}

pub async fn delete(
    request: &Request,
    spec: &Spec,
    okta: &impl LogStreams,
    aws: &impl EventBuses,
) -> Result<Answer, String> {
    let failed_create = request
        .physical_resource_id
        .as_deref()
        .is_some_and(|id| id.starts_with(FAILED_CREATE_PREFIX));
    if failed_create {
        tracing::info!("Delete after a failed Create: removing whatever that Create left");
    }
    let changes = destroy(spec, okta, aws)
        .await
        .map_err(|error| error.to_string())?;
    for change in &changes {
        tracing::info!(change = %change, "deleted");
    }
    Ok(unchanged(request))
}

fn unchanged(request: &Request) -> Answer {
    Answer {
        physical_resource_id: request.physical_resource_id.clone().unwrap_or_default(),
        data: HashMap::new(),
    }
}

fn spec_of(properties: &Value) -> Result<Spec, String> {
    let input: SpecInput = serde_json::from_value(properties.clone())
        .map_err(|error| format!("invalid properties: {error}"))?;
    input.validate().map_err(|error| error.to_string())
}

/// `Fn::GetAtt` attributes: LogStreamId, LogStreamStatus, PartnerEventSource, EventBusArn, RuleArn.
fn data(provisioned: &Provisioned) -> HashMap<String, String> {
    let Ok(Value::Object(fields)) = serde_json::to_value(provisioned) else {
        return HashMap::new();
    };
    fields
        .into_iter()
        .map(|(key, value)| match value {
            Value::String(text) => (key, text),
            other => (key, other.to_string()),
        })
        .collect()
}

async fn okta_client(config: &Config, spec: &Spec, aws: &Aws) -> Result<OktaClient, String> {
    let token = read_secret(&aws.ssm, &config.api_token_parameter, "the Okta API token").await?;
    OktaClient::new(&spec.org, config.okta_api_base_url.as_ref(), &token)
        .map_err(|error| error.to_string())
}
