//! The work behind each custom resource request: read the Okta API token, then apply or destroy.

use std::collections::HashMap;

use aws_adapters::{
    EventBridgeBuses, OktaAccess, OktaAccessError, OktaSession, ParameterError, SecretReader,
    SsmBackfillState,
};
use lambda_support::env::{ConfigError, Environment};
use okta_api::{OktaClient, OktaError};
use provisioning::{
    EventBuses, LogStreams, Owner, ProvisionError, Provisioned, Spec, SpecError, SpecInput,
    Unrouted, apply, destroy, retire_rule,
};
use relay_core::backfill::Gap;
use serde_json::Value;

use crate::custom_resource::{Answer, FAILED_CREATE_PREFIX, Request, RequestType};

/// Where the provisioner finds its Okta API token and, in tests, Okta itself.
#[derive(Debug, Clone)]
pub struct ProvisionerConfig {
    /// `OKTA_OAUTH_*` or `OKTA_API_TOKEN_PARAMETER`: how Okta's API is reached
    /// ([`aws_adapters::OktaAccess`]).
    pub okta_access: OktaAccess,
    /// Calls Okta here instead of the org URL: a proxy, or a local fake in tests.
    pub okta_api_base_url: Option<url::Url>,
    /// `BACKFILL_STATE_PARAMETER` (optional): the watchdog's pending windows, where a new
    /// stream's unrouted first seconds are recorded for it to backfill.
    pub backfill_state_parameter: Option<String>,
}

impl ProvisionerConfig {
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let okta_access = OktaAccess::from_env(&var)?;
        let env = Environment::new(var);
        Ok(Self {
            okta_access,
            okta_api_base_url: env.parsed("OKTA_API_BASE_URL", url::Url::parse)?,
            backfill_state_parameter: env.optional("BACKFILL_STATE_PARAMETER"),
        })
    }
}

/// Why a request was answered FAILED; the message is CloudFormation's `Reason`.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionFailure {
    #[error(transparent)]
    ProvisionerConfig(#[from] ConfigError),
    #[error("invalid properties: {0}")]
    Properties(#[from] serde_json::Error),
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(transparent)]
    Token(#[from] ParameterError),
    #[error(transparent)]
    OktaAccess(#[from] OktaAccessError),
    #[error(transparent)]
    Okta(#[from] OktaError),
    #[error(transparent)]
    Provision(#[from] ProvisionError),
}

/// The AWS side, built once per container.
pub struct ProvisionerClients {
    pub ssm: aws_sdk_ssm::Client,
    /// Where the Okta API token or OAuth private key is read (SSM, or Secrets Manager by ARN).
    pub secrets: SecretReader,
    pub kms: aws_sdk_kms::Client,
    pub buses: EventBridgeBuses,
}

/// Handles one request: parse the properties, reach Okta with the token from SSM, converge.
pub async fn run(
    request: Request,
    config: Result<ProvisionerConfig, ConfigError>,
    aws: &ProvisionerClients,
) -> Result<Answer, ProvisionFailure> {
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
            let (answer, unrouted) = create_or_update(&request, &spec, &okta, &aws.buses).await?;
            if let Some(window) = unrouted {
                record_unrouted(window, config.backfill_state_parameter.as_deref(), aws).await;
            }
            Ok(answer)
        }
    }
}

pub async fn create_or_update(
    request: &Request,
    spec: &Spec,
    okta: &impl LogStreams,
    aws: &impl EventBuses,
) -> Result<(Answer, Option<Unrouted>), ProvisionFailure> {
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
    let provisioned = apply(spec, &owner(request), okta, aws, replacing).await?;
    if let Some(old) = old
        .as_ref()
        .filter(|old| replacing.is_none() && old.rule.name != spec.rule.name)
    {
        retire_rule(old, aws).await?;
    }
    for change in &provisioned.changes {
        tracing::info!(change = %change, "applied");
    }
    let answer = Answer {
        physical_resource_id: provisioned.log_stream_id.clone(),
        data: data(&provisioned),
    };
    Ok((answer, provisioned.unrouted))
}

/// Hands a new stream's unrouted window to the watchdog, which backfills it once settled. The
/// stack's answer does not depend on it: a failure is logged with the command that does it by
/// hand.
async fn record_unrouted(window: Unrouted, parameter: Option<&str>, aws: &ProvisionerClients) {
    let (since, until) = (window.since.to_rfc3339(), window.until.to_rfc3339());
    let Some(parameter) = parameter else {
        tracing::warn!(
            outcome = "unrouted_window",
            since,
            until,
            "Okta streamed before the bus and rule existed; backfill the window by hand \
             (okta-relay backfill --since SINCE --until UNTIL)"
        );
        return;
    };
    let state = SsmBackfillState::new(aws.ssm.clone(), parameter.to_owned());
    let gap = Gap {
        since: window.since,
        until: window.until,
        next: None,
    };
    match state.add(gap).await {
        Ok(_) => tracing::info!(
            outcome = "unrouted_window_recorded",
            since,
            until,
            "the events Okta streamed before the bus and rule existed are left to the watchdog's backfill"
        ),
        Err(error) => tracing::error!(outcome = "unrouted_window_not_recorded", since, until,
            error = %error, "backfill the window by hand (okta-relay backfill --since SINCE --until UNTIL)"),
    }
}

pub async fn delete(
    request: &Request,
    spec: &Spec,
    okta: &impl LogStreams,
    aws: &impl EventBuses,
) -> Result<Answer, ProvisionFailure> {
    let owner = owner(request);
    if owner.after_failed_create {
        tracing::info!("Delete after a failed Create: removing whatever that Create left");
    }
    let changes = destroy(spec, &owner, okta, aws).await?;
    for change in &changes {
        tracing::info!(change = %change, "deleted");
    }
    Ok(unchanged(request))
}

/// The stack owns what it made: its id tags the partner bus, and CloudFormation's record (the
/// physical id, the stream's id since Create succeeded) proves a stream made before the tag.
fn owner(request: &Request) -> Owner {
    let physical_id = request.physical_resource_id.as_deref();
    let after_failed_create = physical_id.is_some_and(|id| id.starts_with(FAILED_CREATE_PREFIX));
    Owner {
        id: request.stack_id.clone(),
        recorded_stream_id: physical_id.filter(|_| !after_failed_create).map(Into::into),
        after_failed_create: after_failed_create && request.request_type == RequestType::Delete,
    }
}

fn unchanged(request: &Request) -> Answer {
    Answer {
        physical_resource_id: request.physical_resource_id.clone().unwrap_or_default(),
        data: HashMap::new(),
    }
}

fn spec_of(properties: &Value) -> Result<Spec, ProvisionFailure> {
    let input: SpecInput = serde_json::from_value(properties.clone())?;
    Ok(input.validate()?)
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

async fn okta_client(
    config: &ProvisionerConfig,
    spec: &Spec,
    aws: &ProvisionerClients,
) -> Result<OktaClient, ProvisionFailure> {
    // A provisioner runs a few times per stack's life: its OAuth token is fetched per request.
    let okta_base = config
        .okta_api_base_url
        .as_ref()
        .unwrap_or(spec.org.as_url());
    let credentials = OktaSession::new(config.okta_access.clone())
        .credentials(&aws.secrets, &aws.kms, &okta_api::http_client()?, okta_base)
        .await?;
    Ok(OktaClient::new(
        &spec.org,
        config.okta_api_base_url.as_ref(),
        credentials,
    )?)
}
