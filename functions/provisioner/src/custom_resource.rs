//! CloudFormation's custom resource protocol: read the request, do the work, and **always** PUT
//! SUCCESS or FAILED to the pre-signed `ResponseURL`, even when the work panics or runs out of
//! time, so a stack never waits an hour for an answer that will not come.
//!
//! <https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-responses.html>

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use aws_lambda_events::cloudformation::{
    CloudFormationCustomResourceResponse, CloudFormationCustomResourceResponseStatus,
};
use retry::{AttemptError, RetryPolicy};
use serde::Deserialize;
use serde_json::Value;

/// The metric the template's provisioner alarm watches (namespace `OktaRelay`).
pub const FAILED_METRIC: &str = "ProvisionerFailed";
/// Kept back from the Lambda deadline to send the response.
pub const RESPONSE_MARGIN: Duration = Duration::from_secs(5);
/// The physical id answered for a Create that failed before anything had an id.
pub const FAILED_CREATE_PREFIX: &str = "okta-relay-create-failed-";
/// CloudFormation refuses response bodies over 4096 bytes; the reason gets what the rest leaves.
const MAX_REASON_BYTES: usize = 2048;
/// Each id echoed from a malformed request is cut to this, so the body stays under 4096 bytes.
const MAX_ECHO_BYTES: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum RequestType {
    Create,
    Update,
    Delete,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub request_type: RequestType,
    pub request_id: String,
    #[serde(rename = "ResponseURL")]
    pub response_url: String,
    pub stack_id: String,
    pub logical_resource_id: String,
    #[serde(default)]
    pub physical_resource_id: Option<String>,
    #[serde(default)]
    pub resource_properties: Value,
    #[serde(default)]
    pub old_resource_properties: Option<Value>,
}

/// What the work produced on success.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Answer {
    pub physical_resource_id: String,
    pub data: HashMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum CustomResourceError {
    #[error(
        "the event is not a CloudFormation custom resource request ({0}); there is no ResponseURL to answer"
    )]
    NotARequest(String),
    #[error(
        "could not deliver the response to CloudFormation's ResponseURL after {attempts} attempts: {reason}"
    )]
    ResponseNotDelivered { attempts: u32, reason: String },
}

impl CustomResourceError {
    /// The invocation's `errorType`.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::NotARequest(_) => "NotACustomResourceRequest",
            Self::ResponseNotDelivered { .. } => "ResponseNotDelivered",
        }
    }
}

/// Runs `work` for the request in `payload` and answers CloudFormation. `time_left` is the time
/// until the Lambda deadline; the work gets it minus [`RESPONSE_MARGIN`]. `log_stream` is this
/// invocation's CloudWatch log stream, named in failure reasons so operators find the details.
pub async fn handle<W, Fut, E>(
    payload: Value,
    time_left: Duration,
    http: &reqwest::Client,
    log_stream: &str,
    work: W,
) -> Result<CloudFormationCustomResourceResponse, CustomResourceError>
where
    W: FnOnce(Request) -> Fut,
    Fut: Future<Output = Result<Answer, E>> + Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    // Anything that names where to answer gets an answer: a request CloudFormation would never
    // send (no StackId, RequestType `Bogus`) is answered FAILED with what is wrong, instead of
    // leaving a stack waiting an hour for its timeout.
    let response_url = usable_response_url(&payload).ok_or_else(|| {
        CustomResourceError::NotARequest("no ResponseURL that is an http(s) URL".into())
    })?;
    let request: Request = match serde_json::from_value(payload.clone()) {
        Ok(request) => request,
        Err(error) => {
            let reason = format!(
                "the request is not a CloudFormation custom resource request this provisioner \
                 can act on: {error}"
            );
            let response = response_for(&Echo::from_payload(&payload), Err(reason), log_stream);
            tracing::error!(
                reason = response.reason.as_deref().unwrap_or_default(),
                "custom resource FAILED: malformed request"
            );
            send(http, &response_url, &response).await?;
            return Ok(response);
        }
    };
    let budget = time_left.saturating_sub(RESPONSE_MARGIN);
    // A task of its own, so a panic in the work becomes a JoinError here instead of unwinding
    // past the code that must answer CloudFormation.
    let mut task = tokio::spawn(work(request.clone()));
    let outcome = match tokio::time::timeout(budget, &mut task).await {
        Ok(Ok(outcome)) => outcome.map_err(|reason| reason.to_string()),
        Ok(Err(joined)) => Err(match joined.try_into_panic() {
            Ok(panic) => format!(
                "the provisioner panicked: {}",
                panic_message(panic.as_ref())
            ),
            Err(_) => "the provisioner's task was cancelled".into(),
        }),
        Err(_) => {
            task.abort();
            Err(format!(
                "the provisioner ran out of time after {} s (Lambda timeout minus {} s to answer); \
                 steps already done are kept and a retry converges",
                budget.as_secs(),
                RESPONSE_MARGIN.as_secs()
            ))
        }
    };
    let response = response_for(&Echo::from_request(&request), outcome, log_stream);
    match &response.status {
        CloudFormationCustomResourceResponseStatus::Failed => tracing::error!(
            request_type = ?request.request_type,
            logical_resource_id = %request.logical_resource_id,
            physical_resource_id = %response.physical_resource_id,
            reason = response.reason.as_deref().unwrap_or_default(),
            "custom resource FAILED"
        ),
        _ => tracing::info!(
            request_type = ?request.request_type,
            logical_resource_id = %request.logical_resource_id,
            physical_resource_id = %response.physical_resource_id,
            "custom resource SUCCESS"
        ),
    }
    send(http, &response_url, &response).await?;
    Ok(response)
}

/// The request's `ResponseURL` when it is an http(s) URL (CloudFormation's is a pre-signed S3
/// https URL; tests answer a local http one).
fn usable_response_url(payload: &Value) -> Option<String> {
    let text = payload.get("ResponseURL")?.as_str()?;
    let url = reqwest::Url::parse(text).ok()?;
    matches!(url.scheme(), "https" | "http").then(|| text.to_owned())
}

/// What a response repeats from its request (CloudFormation matches the answer by these).
#[derive(Debug, Clone, Default)]
pub struct Echo {
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    pub physical_resource_id: Option<String>,
}

impl Echo {
    pub fn from_request(request: &Request) -> Self {
        Self {
            stack_id: request.stack_id.clone(),
            request_id: request.request_id.clone(),
            logical_resource_id: request.logical_resource_id.clone(),
            physical_resource_id: request.physical_resource_id.clone(),
        }
    }

    /// Whatever string fields a malformed request has.
    fn from_payload(payload: &Value) -> Self {
        let field = |name: &str| {
            payload
                .get(name)
                .and_then(Value::as_str)
                .map(|text| truncate(text, MAX_ECHO_BYTES).to_owned())
        };
        Self {
            stack_id: field("StackId").unwrap_or_default(),
            request_id: field("RequestId").unwrap_or_default(),
            logical_resource_id: field("LogicalResourceId").unwrap_or_default(),
            physical_resource_id: field("PhysicalResourceId"),
        }
    }
}

/// The response body CloudFormation documents: Status, Reason (on failure), PhysicalResourceId,
/// StackId, RequestId, LogicalResourceId, NoEcho, Data.
pub fn response_for(
    request: &Echo,
    outcome: Result<Answer, impl std::fmt::Display>,
    log_stream: &str,
) -> CloudFormationCustomResourceResponse {
    let mut response = CloudFormationCustomResourceResponse::default();
    response.stack_id = request.stack_id.clone();
    response.request_id = request.request_id.clone();
    response.logical_resource_id = request.logical_resource_id.clone();
    match outcome {
        Ok(answer) => {
            response.status = CloudFormationCustomResourceResponseStatus::Success;
            response.physical_resource_id = answer.physical_resource_id;
            response.data = answer.data;
        }
        Err(reason) => {
            response.status = CloudFormationCustomResourceResponseStatus::Failed;
            response.physical_resource_id = request
                .physical_resource_id
                .clone()
                .unwrap_or_else(|| format!("{FAILED_CREATE_PREFIX}{}", request.request_id));
            let reason = reason.to_string();
            let reason = truncate(&reason, MAX_REASON_BYTES);
            response.reason = Some(format!(
                "{reason} (details: CloudWatch log stream {log_stream})"
            ));
        }
    }
    response
}

/// PUTs the response, retrying transient failures for up to 30 s. The pre-signed S3 URL was signed
/// without a content type, so none is sent.
async fn send(
    http: &reqwest::Client,
    url: &str,
    response: &CloudFormationCustomResourceResponse,
) -> Result<(), CustomResourceError> {
    let body = body_of(response);
    let policy = RetryPolicy {
        first_delay: Duration::from_millis(500),
        max_delay: Duration::from_secs(5),
        max_attempts: 5,
        min_attempt_time: Duration::from_millis(500),
    };
    let attempted = policy
        .run(Duration::from_secs(30), |slot| {
            let request = http.put(url).body(body.clone()).timeout(slot.time_left);
            async move {
                match request.send().await {
                    Ok(answer) if answer.status().is_success() => Ok(()),
                    Ok(answer) if answer.status().is_redirection() => Err(AttemptError {
                        reason: format!(
                            "HTTP {}: the ResponseURL redirects, and no redirect is followed",
                            answer.status().as_u16()
                        ),
                        status: Some(answer.status().as_u16()),
                        retryable: false,
                        retry_after: None,
                    }),
                    Ok(answer) => Err(AttemptError {
                        reason: format!("HTTP {}", answer.status().as_u16()),
                        status: Some(answer.status().as_u16()),
                        retryable: retry::is_retryable_status(answer.status().as_u16()),
                        retry_after: None,
                    }),
                    Err(error) => Err(AttemptError {
                        // The pre-signed URL's query is a credential: never print it.
                        reason: error.without_url().to_string(),
                        status: None,
                        retryable: true,
                        retry_after: None,
                    }),
                }
            }
        })
        .await;
    attempted
        .result
        .map_err(|error| CustomResourceError::ResponseNotDelivered {
            attempts: attempted.attempts,
            reason: error.reason,
        })
}

/// The JSON CloudFormation reads; `Reason` only when there is one (it is required on FAILED).
pub fn body_of(response: &CloudFormationCustomResourceResponse) -> Vec<u8> {
    let mut value = serde_json::to_value(response).unwrap_or_default();
    if let Some(fields) = value.as_object_mut()
        && fields.get("Reason").is_some_and(Value::is_null)
    {
        fields.remove("Reason");
    }
    serde_json::to_vec(&value).unwrap_or_default()
}

/// One Embedded Metric Format line: `OktaRelay/ProvisionerFailed` (1 or 0) for this function,
/// which the template's alarm watches. The invocation itself succeeds either way: CloudFormation
/// has its answer, and a failed invocation would make Lambda run the request again.
pub fn metric_line(function_name: &str, response: &CloudFormationCustomResourceResponse) -> String {
    let failed = u8::from(response.status == CloudFormationCustomResourceResponseStatus::Failed);
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis());
    let metrics = [(FAILED_METRIC, "Count", serde_json::json!(failed))];
    relay_core::metrics::emf(function_name, timestamp, &metrics).to_string()
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into())
}

fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
