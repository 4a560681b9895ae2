//! moto's server (AWS APIs) as a child process. `make test` installs moto into `.venv` through
//! `tools/bootstrap.sh`; the server runs through `tools/moto_server.py`, which fixes the places
//! where moto contradicts AWS (its docstring lists each with the AWS document it follows).
//! `MOTO_PYTHON` may name another Python that has moto installed.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ssm::config::Credentials;

pub const REGION: &str = "us-east-1";

/// A running `moto_server`, killed on drop. Its log is kept in a temp file and printed by
/// [`MotoServer::log`] when a test wants to show why something failed.
pub struct MotoServer {
    child: Child,
    port: u16,
    log: tempfile::NamedTempFile,
}

#[derive(Debug)]
pub struct StartError(pub String);

impl std::fmt::Display for StartError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl std::error::Error for StartError {}

fn python() -> PathBuf {
    if let Some(path) = std::env::var_os("MOTO_PYTHON") {
        return path.into();
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    if venv.exists() {
        venv
    } else {
        PathBuf::from("python3")
    }
}

fn launcher() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tools/moto_server.py")
}

fn free_port() -> Result<u16, StartError> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .map_err(|error| StartError(format!("no free port: {error}")))?;
    listener
        .local_addr()
        .map(|address| address.port())
        .map_err(|error| StartError(error.to_string()))
}

impl MotoServer {
    pub fn start() -> Result<Self, StartError> {
        let port = free_port()?;
        let log = tempfile::NamedTempFile::new().map_err(|error| StartError(error.to_string()))?;
        let output = |file: &tempfile::NamedTempFile| file.reopen().map(Stdio::from);
        let child = Command::new(python())
            .arg(launcher())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(output(&log).map_err(|error| StartError(error.to_string()))?)
            .stderr(output(&log).map_err(|error| StartError(error.to_string()))?)
            .spawn()
            .map_err(|error| {
                StartError(format!(
                    "could not start moto with {}: {error}; run `make tools` (or set MOTO_PYTHON)",
                    python().display()
                ))
            })?;
        let mut server = Self { child, port, log };
        server.wait_until_listening()?;
        Ok(server)
    }

    fn wait_until_listening(&mut self) -> Result<(), StartError> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(StartError(format!(
                    "moto_server exited with {status}: {}",
                    self.log()
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(StartError(format!(
            "moto_server did not listen on port {} within 30 s: {}",
            self.port,
            self.log()
        )))
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// SDK configuration pointing every client at this server with dummy credentials.
    pub async fn sdk_config(&self) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(self.endpoint())
            .region(Region::new(REGION))
            .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
            .load()
            .await
    }

    /// The environment a child process (a CLI run, a function binary) needs to call this server
    /// instead of AWS: endpoint, dummy credentials, region, and no profile files from the host.
    pub fn process_env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", REGION.into()),
            (
                "AWS_CONFIG_FILE",
                "/nonexistent/okta-relay-aws-config".into(),
            ),
            (
                "AWS_SHARED_CREDENTIALS_FILE",
                "/nonexistent/okta-relay-aws-credentials".into(),
            ),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_string(), value))
        .collect()
    }

    /// What the server printed so far.
    pub fn log(&self) -> String {
        let mut text = String::new();
        if let Ok(mut file) = self.log.reopen() {
            let _ = file.read_to_string(&mut text);
        }
        text
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // A failing test keeps moto's log for whoever reads the failure.
        if std::thread::panicking() {
            let kept = std::env::temp_dir().join(format!("okta-relay-moto-{}.log", self.port));
            if std::fs::copy(self.log.path(), &kept).is_ok() {
                eprintln!("moto log kept at {}", kept.display());
            }
        }
    }
}

/// The idempotency table as template.yaml's `DeduplicationTable` defines it (hash key `key`).
pub async fn create_dedup_table(aws: &SdkConfig, name: &str) -> Result<(), String> {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let attribute = AttributeDefinition::builder()
        .attribute_name("key")
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(|error| error.to_string())?;
    let key = KeySchemaElement::builder()
        .attribute_name("key")
        .key_type(KeyType::Hash)
        .build()
        .map_err(|error| error.to_string())?;
    aws_sdk_dynamodb::Client::new(aws)
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute)
        .key_schema(key)
        .send()
        .await
        .map(|_| ())
        .map_err(|error| aws_sdk_dynamodb::error::DisplayErrorContext(error).to_string())
}

/// A queue like the template's dead-letter queue (its `MaximumMessageSize`); answers its URL.
pub async fn create_queue(aws: &SdkConfig, name: &str) -> Result<String, String> {
    aws_sdk_sqs::Client::new(aws)
        .create_queue()
        .queue_name(name)
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::MaximumMessageSize,
            "262144",
        )
        .send()
        .await
        .map_err(|error| aws_sdk_sqs::error::DisplayErrorContext(error).to_string())?
        .queue_url
        .ok_or_else(|| format!("moto created queue {name} without a URL"))
}

/// The partner bus's owner tag, `okta-relay:owner` as docs/PROVISIONING.md names it; `None`
/// without one.
pub async fn bus_owner(
    eventbridge: &aws_sdk_eventbridge::Client,
    bus: &str,
) -> Result<Option<String>, String> {
    let failed = |error: &dyn std::fmt::Display| error.to_string();
    let described = eventbridge
        .describe_event_bus()
        .name(bus)
        .send()
        .await
        .map_err(|e| failed(&aws_sdk_eventbridge::error::DisplayErrorContext(e)))?;
    let tags = eventbridge
        .list_tags_for_resource()
        .resource_arn(described.arn().unwrap_or_default())
        .send()
        .await
        .map_err(|e| failed(&aws_sdk_eventbridge::error::DisplayErrorContext(e)))?;
    Ok(tags
        .tags()
        .iter()
        .find(|tag| tag.key() == "okta-relay:owner")
        .map(|tag| tag.value().to_string()))
}

/// Deletes the rule's target (`id` = the rule's name), the rule and the partner bus `bus`, as
/// someone in the console would: the partner source goes back to PENDING.
pub async fn delete_partner_path(
    eventbridge: &aws_sdk_eventbridge::Client,
    bus: &str,
    rule: &str,
) -> Result<(), String> {
    let failed = |error: &dyn std::fmt::Display| error.to_string();
    eventbridge
        .remove_targets()
        .rule(rule)
        .event_bus_name(bus)
        .ids(rule)
        .send()
        .await
        .map_err(|e| failed(&aws_sdk_eventbridge::error::DisplayErrorContext(e)))?;
    eventbridge
        .delete_rule()
        .name(rule)
        .event_bus_name(bus)
        .send()
        .await
        .map_err(|e| failed(&aws_sdk_eventbridge::error::DisplayErrorContext(e)))?;
    eventbridge
        .delete_event_bus()
        .name(bus)
        .send()
        .await
        .map_err(|e| failed(&aws_sdk_eventbridge::error::DisplayErrorContext(e)))?;
    Ok(())
}

/// An okta-relay stack in moto's CloudFormation, as `DescribeStacks` shows one to
/// `okta-relay --stack`: template.yaml's parameter and output names (parameters at their
/// defaults but for the org), with the inbox (`<name>-inbox`) and dead-letter queue
/// (`<name>-dlq`) as real queues. Answers the stack id.
pub async fn create_okta_relay_stack(aws: &SdkConfig, name: &str) -> Result<String, String> {
    let text = |default: &str| serde_json::json!({"Type": "String", "Default": default});
    let template = serde_json::json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {
            "OktaOrgUrl": text("https://example.okta.com"),
            "OktaApiTokenParameterName": text("/okta-relay/okta-api-token"),
            "LogStreamName": text("okta-relay"),
            "EventSourceName": text("okta-relay"),
            "RuleName": text("okta-relay"),
            "EventPattern": text(r#"{"detail":{"eventType":[{"prefix":"user.session."}]}}"#),
            "AdoptExisting": text("false"),
            "RoutesParameterName": text("/okta-relay/routes"),
            "AllowedEndpointHosts": text("")
        },
        "Resources": {
            "InboxQueue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": format!("{name}-inbox")}},
            "RelayDeadLetterQueue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": format!("{name}-dlq")}}
        },
        "Outputs": {
            "InboxQueueUrl": {"Value": {"Ref": "InboxQueue"}},
            "InboxQueueArn": {"Value": {"Fn::GetAtt": ["InboxQueue", "Arn"]}},
            "RelayDeadLetterQueueUrl": {"Value": {"Ref": "RelayDeadLetterQueue"}},
            "RelayDeadLetterQueueArn": {"Value": {"Fn::GetAtt": ["RelayDeadLetterQueue", "Arn"]}}
        }
    });
    aws_sdk_cloudformation::Client::new(aws)
        .create_stack()
        .stack_name(name)
        .template_body(template.to_string())
        .send()
        .await
        .map_err(|error| aws_sdk_cloudformation::error::DisplayErrorContext(error).to_string())?
        .stack_id
        .ok_or_else(|| format!("moto created stack {name} without an id"))
}

/// Writes an SSM parameter, a SecureString when `secure`, replacing any value it had.
pub async fn put_parameter(
    ssm: &aws_sdk_ssm::Client,
    name: &str,
    value: &str,
    secure: bool,
) -> Result<(), String> {
    let kind = if secure {
        aws_sdk_ssm::types::ParameterType::SecureString
    } else {
        aws_sdk_ssm::types::ParameterType::String
    };
    ssm.put_parameter()
        .name(name)
        .value(value)
        .r#type(kind)
        .overwrite(true)
        .send()
        .await
        .map(|_| ())
        .map_err(|error| aws_sdk_ssm::error::DisplayErrorContext(error).to_string())
}

/// Receives and deletes every message visible in the queue now; answers their bodies.
pub async fn drain_queue(aws: &SdkConfig, queue_url: &str) -> Result<Vec<String>, String> {
    let sqs = aws_sdk_sqs::Client::new(aws);
    let failed = |error: &dyn std::fmt::Display| error.to_string();
    let mut bodies = Vec::new();
    loop {
        let read = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .send()
            .await
            .map_err(|error| failed(&aws_sdk_sqs::error::DisplayErrorContext(error)))?;
        if read.messages().is_empty() {
            return Ok(bodies);
        }
        for message in read.messages() {
            bodies.push(message.body().unwrap_or_default().to_string());
            if let Some(handle) = message.receipt_handle() {
                sqs.delete_message()
                    .queue_url(queue_url)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .map_err(|error| failed(&aws_sdk_sqs::error::DisplayErrorContext(error)))?;
            }
        }
    }
}

/// A queue like the template's inbox: its `VisibilityTimeout`, and a redrive policy to
/// `dead_letter_url`'s queue after `max_receive_count` receives; answers its URL and ARN.
pub async fn create_inbox(
    aws: &SdkConfig,
    name: &str,
    dead_letter_url: &str,
    visibility_timeout: u64,
    max_receive_count: u32,
) -> Result<(String, String), String> {
    use aws_sdk_sqs::types::QueueAttributeName as Name;
    let sqs = aws_sdk_sqs::Client::new(aws);
    let failed = |error: &dyn std::fmt::Display| error.to_string();
    let arn_of = |url: String| {
        let sqs = sqs.clone();
        async move {
            sqs.get_queue_attributes()
                .queue_url(&url)
                .attribute_names(Name::QueueArn)
                .send()
                .await
                .map_err(|error| failed(&aws_sdk_sqs::error::DisplayErrorContext(error)))?
                .attributes()
                .and_then(|attributes| attributes.get(&Name::QueueArn).cloned())
                .ok_or_else(|| format!("moto did not answer the ARN of {url}"))
        }
    };
    let dead_letter_arn = arn_of(dead_letter_url.to_owned()).await?;
    let policy = serde_json::json!({
        "deadLetterTargetArn": dead_letter_arn,
        "maxReceiveCount": max_receive_count,
    });
    let url = sqs
        .create_queue()
        .queue_name(name)
        .attributes(Name::MaximumMessageSize, "262144")
        .attributes(Name::VisibilityTimeout, visibility_timeout.to_string())
        .attributes(Name::RedrivePolicy, policy.to_string())
        .send()
        .await
        .map_err(|error| failed(&aws_sdk_sqs::error::DisplayErrorContext(error)))?
        .queue_url
        .ok_or_else(|| format!("moto created queue {name} without a URL"))?;
    let arn = arn_of(url.clone()).await?;
    Ok((url, arn))
}

/// Puts each body in the queue as the rule's SQS target would (ten a call).
pub async fn send_bodies(
    aws: &SdkConfig,
    queue_url: &str,
    bodies: &[String],
) -> Result<(), String> {
    let sqs = aws_sdk_sqs::Client::new(aws);
    for chunk in bodies.chunks(10) {
        let entries: Vec<_> = chunk
            .iter()
            .enumerate()
            .map(|(index, body)| {
                aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                    .id(index.to_string())
                    .message_body(body)
                    .build()
                    .map_err(|error| error.to_string())
            })
            .collect::<Result<_, _>>()?;
        let sent = sqs
            .send_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|error| aws_sdk_sqs::error::DisplayErrorContext(error).to_string())?;
        if let Some(failure) = sent.failed().first() {
            return Err(format!(
                "moto refused a message: {} {}",
                failure.code(),
                failure.message().unwrap_or_default()
            ));
        }
    }
    Ok(())
}

/// An RSA 2048 `SIGN_VERIFY` KMS key in moto, as the template's `OAuthSigningKey`; its id.
pub async fn create_signing_key(kms: &aws_sdk_kms::Client) -> Result<String, String> {
    let created = kms
        .create_key()
        .key_usage(aws_sdk_kms::types::KeyUsageType::SignVerify)
        .key_spec(aws_sdk_kms::types::KeySpec::Rsa2048)
        .send()
        .await
        .map_err(|error| aws_sdk_kms::error::DisplayErrorContext(error).to_string())?;
    created
        .key_metadata()
        .map(|metadata| metadata.key_id().to_owned())
        .ok_or_else(|| "CreateKey answered no key".into())
}
