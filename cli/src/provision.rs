//! `okta-relay provision plan|apply|destroy|status`: the provisioner's work from a workstation,
//! with the same inputs as the custom resource (a JSON file with its property names, flags and
//! environment variables on top).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use aws_adapters::EventBridgeBuses;
use comfy_table::Table;
use okta_api::OktaClient;
use provisioning::{
    Change, Owner, Spec, SpecInput, Status, apply, destroy, observe, plan_apply, plan_destroy,
    status,
};
use serde_json::{Map, Value, json};

use crate::stack::{Stack, StackArgs, StackValue, optional};

#[derive(clap::Subcommand)]
pub enum ProvisionCommand {
    /// Show what `apply` would change; change nothing.
    Plan(ProvisionArgs),
    /// Create or update the Okta log stream, the partner event bus, the rule and its target.
    Apply(ProvisionArgs),
    /// Remove the rule's targets, the rule and the bus, then deactivate and delete the Okta log
    /// stream. Shows the plan and changes nothing without `--yes`.
    Destroy {
        #[command(flatten)]
        args: ProvisionArgs,
        /// Really delete.
        #[arg(long)]
        yes: bool,
    },
    /// Show the Okta log stream, the partner event source, the bus, the rule and its targets;
    /// exit 1 when anything stops events from flowing (for example, Okta deactivated the stream).
    Status(ProvisionArgs),
}

/// The inputs. The Okta API token comes from `OKTA_API_TOKEN` or an SSM SecureString
/// (`--api-token-parameter`), never from a flag, so it stays out of shell history and `ps`.
#[derive(clap::Args, Default)]
pub struct ProvisionArgs {
    #[command(flatten)]
    stack: StackArgs,
    /// JSON object with the custom resource's property names (OrgUrl, LogStreamName,
    /// EventSourceName, AccountId, Region, RuleName, EventPattern, TargetArn, ...). Flags win.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    #[arg(long, env = "OKTA_ORG_URL", value_name = "URL")]
    org_url: Option<String>,
    /// Okta log stream name [default: okta-relay].
    #[arg(long, value_name = "NAME")]
    log_stream_name: Option<String>,
    /// The name in aws.partner/okta.com/<org>/<name> [default: okta-relay].
    #[arg(long, value_name = "NAME")]
    event_source_name: Option<String>,
    /// AWS account Okta streams to [default: the target ARN's].
    #[arg(long, value_name = "ID")]
    account_id: Option<String>,
    /// AWS region Okta streams to [default: the target ARN's].
    #[arg(long, value_name = "REGION")]
    region: Option<String>,
    /// EventBridge rule name [default: okta-relay].
    #[arg(long, value_name = "NAME")]
    rule_name: Option<String>,
    /// The rule's event pattern: JSON, or @FILE.
    #[arg(long, value_name = "JSON|@FILE")]
    event_pattern: Option<String>,
    /// The relay function's ARN.
    #[arg(long, value_name = "ARN")]
    target_arn: Option<String>,
    /// SQS queue for events EventBridge cannot deliver to the relay.
    #[arg(long, value_name = "ARN")]
    dead_letter_queue_arn: Option<String>,
    #[arg(long, value_name = "N")]
    maximum_retry_attempts: Option<u32>,
    #[arg(long, value_name = "SECONDS")]
    maximum_event_age_in_seconds: Option<u32>,
    #[arg(long, value_name = "SECONDS")]
    partner_source_wait_seconds: Option<u32>,
    /// Who owns what this command creates (the okta-relay:owner tag on the partner bus): a
    /// stack's id to act for that stack [default: the --stack's id, else okta-relay-cli].
    #[arg(long, value_name = "ID")]
    owner: Option<String>,
    /// Take over a stream and bus with these settings that another owner, or nobody, made (the
    /// template's AdoptExisting); the other owner no longer manages or deletes them.
    #[arg(long)]
    adopt_existing: bool,
    /// SSM SecureString parameter holding the Okta API token (read with your AWS credentials).
    #[arg(long, env = "OKTA_API_TOKEN_PARAMETER", value_name = "NAME")]
    api_token_parameter: Option<String>,
    /// Call Okta here instead of the org URL (a proxy; http only on 127.0.0.1 for tests).
    #[arg(long, env = "OKTA_API_BASE_URL", value_name = "URL", hide = true)]
    okta_api_base_url: Option<url::Url>,
}

/// The owner of what the CLI provisions when `--owner` is not given.
const DEFAULT_OWNER: &str = "okta-relay-cli";

pub async fn run(command: ProvisionCommand) -> anyhow::Result<ExitCode> {
    match command {
        ProvisionCommand::Plan(args) => {
            let (spec, clients) = prepare(&args).await?;
            let observed = observe(&spec, &clients.okta, &clients.buses).await?;
            let changes = plan_apply(&spec, &clients.owner, &observed, None)?;
            print_changes(Some("apply"), &changes);
            Ok(ExitCode::SUCCESS)
        }
        ProvisionCommand::Apply(args) => {
            let (spec, clients) = prepare(&args).await?;
            let provisioned =
                apply(&spec, &clients.owner, &clients.okta, &clients.buses, None).await?;
            if let Some(window) = &provisioned.unrouted {
                // Okta streamed from creation; nothing routed until the bus and rule existed.
                eprintln!(
                    "the new stream's first events ({} to {}) reached no rule; relay them with \
                     okta-relay backfill --since {} --until {}",
                    window.since.to_rfc3339(),
                    window.until.to_rfc3339(),
                    window.since.to_rfc3339(),
                    window.until.to_rfc3339()
                );
            }
            if crate::output::json() {
                println!("{}", serde_json::to_string_pretty(&provisioned)?);
            } else {
                print_changes(None, &provisioned.changes);
                let mut table = Table::new();
                table.set_header(["Output", "Value"]);
                if let Value::Object(fields) = serde_json::to_value(&provisioned)? {
                    for (key, value) in fields {
                        table.add_row([key, value.as_str().map_or(value.to_string(), Into::into)]);
                    }
                }
                println!("{table}");
            }
            Ok(ExitCode::SUCCESS)
        }
        ProvisionCommand::Destroy { args, yes } => {
            let (spec, clients) = prepare(&args).await?;
            if !yes {
                let observed = observe(&spec, &clients.okta, &clients.buses).await?;
                let changes = plan_destroy(&spec, &clients.owner, &observed);
                print_changes(Some("destroy"), &changes);
                eprintln!("nothing deleted: run again with --yes to delete");
                return Ok(ExitCode::from(2));
            }
            let changes = destroy(&spec, &clients.owner, &clients.okta, &clients.buses).await?;
            print_changes(None, &changes);
            Ok(ExitCode::SUCCESS)
        }
        ProvisionCommand::Status(args) => {
            let (spec, clients) = prepare(&args).await?;
            let status = status(&spec, &clients.okta, &clients.buses).await?;
            print_status(&status)?;
            Ok(if status.is_healthy() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

pub struct Clients {
    pub okta: OktaClient,
    pub buses: EventBridgeBuses,
    pub owner: Owner,
}

impl ProvisionArgs {
    /// The inputs of the stack `stack` alone (`okta-relay doctor`).
    pub fn for_stack(stack: StackArgs, okta_api_base_url: Option<url::Url>) -> Self {
        Self {
            stack,
            okta_api_base_url,
            ..Self::default()
        }
    }
}

/// The validated inputs and the clients to apply them with.
pub async fn prepare(args: &ProvisionArgs) -> anyhow::Result<(Spec, Clients)> {
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let stack = args.stack.describe(&aws).await?;
    let spec = spec_input(args, stack.as_ref())?.validate()?;
    let token_parameter = optional(
        args.api_token_parameter.clone(),
        stack.as_ref(),
        StackValue::Parameter("OktaApiTokenParameterName"),
    );
    let okta_base = args.okta_api_base_url.as_ref().unwrap_or(spec.org.as_url());
    let credentials = crate::okta_access::okta_credentials(
        token_parameter.as_deref(),
        stack.as_ref(),
        &aws,
        okta_base,
    )
    .await?;
    let okta = OktaClient::new(&spec.org, args.okta_api_base_url.as_ref(), credentials)?;
    let buses = EventBridgeBuses::new(aws_sdk_eventbridge::Client::new(&aws));
    let owner = args
        .owner
        .clone()
        .or_else(|| stack.map(|stack| stack.id))
        .unwrap_or_else(|| DEFAULT_OWNER.into());
    Ok((
        spec,
        Clients {
            okta,
            buses,
            owner: Owner::new(owner),
        },
    ))
}

/// What the stack's custom resource is given, from the stack's parameters and outputs.
const FROM_STACK: [(&str, StackValue); 8] = [
    ("OrgUrl", StackValue::Parameter("OktaOrgUrl")),
    ("LogStreamName", StackValue::Parameter("LogStreamName")),
    ("EventSourceName", StackValue::Parameter("EventSourceName")),
    ("RuleName", StackValue::Parameter("RuleName")),
    ("EventPattern", StackValue::Parameter("EventPattern")),
    ("AdoptExisting", StackValue::Parameter("AdoptExisting")),
    ("TargetArn", StackValue::Output("InboxQueueArn")),
    (
        "DeadLetterQueueArn",
        StackValue::Output("RelayDeadLetterQueueArn"),
    ),
];

/// The config file's object, then each flag given, then the stack's values, then defaults.
fn spec_input(args: &ProvisionArgs, stack: Option<&Stack>) -> anyhow::Result<SpecInput> {
    let mut fields = match &args.config {
        Some(path) => {
            let text = crate::input::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            match serde_json::from_str(&text)
                .with_context(|| format!("{} is not JSON", path.display()))?
            {
                Value::Object(fields) => fields,
                _ => anyhow::bail!("{} must hold a JSON object of inputs", path.display()),
            }
        }
        None => Map::new(),
    };
    let pattern = args
        .event_pattern
        .as_deref()
        .map(read_pattern)
        .transpose()?;
    let flags = [
        ("OrgUrl", args.org_url.clone().map(Value::from)),
        (
            "LogStreamName",
            args.log_stream_name.clone().map(Value::from),
        ),
        (
            "EventSourceName",
            args.event_source_name.clone().map(Value::from),
        ),
        ("AccountId", args.account_id.clone().map(Value::from)),
        ("Region", args.region.clone().map(Value::from)),
        ("RuleName", args.rule_name.clone().map(Value::from)),
        ("EventPattern", pattern.map(Value::from)),
        ("TargetArn", args.target_arn.clone().map(Value::from)),
        (
            "DeadLetterQueueArn",
            args.dead_letter_queue_arn.clone().map(Value::from),
        ),
        (
            "MaximumRetryAttempts",
            args.maximum_retry_attempts.map(Value::from),
        ),
        (
            "MaximumEventAgeInSeconds",
            args.maximum_event_age_in_seconds.map(Value::from),
        ),
        (
            "PartnerSourceWaitSeconds",
            args.partner_source_wait_seconds.map(Value::from),
        ),
        (
            "AdoptExisting",
            args.adopt_existing.then_some(Value::Bool(true)),
        ),
    ];
    for (key, value) in flags {
        if let Some(value) = value {
            fields.insert(key.into(), value);
        }
    }
    if let Some(stack) = stack {
        for (key, from) in FROM_STACK {
            if !fields.contains_key(key)
                && let Some(value) = optional(None, Some(stack), from)
            {
                fields.insert(key.into(), Value::from(value));
            }
        }
    }
    for key in ["LogStreamName", "EventSourceName", "RuleName"] {
        fields.entry(key).or_insert_with(|| json!("okta-relay"));
    }
    // The relay's ARN names the account and region the stream must reach.
    let target_arn = fields
        .get("TargetArn")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let arn_parts: Vec<&str> = target_arn.split(':').collect();
    if let [_, _, _, region, account, ..] = arn_parts[..] {
        fields.entry("Region").or_insert_with(|| json!(region));
        fields.entry("AccountId").or_insert_with(|| json!(account));
    }
    for required in ["OrgUrl", "TargetArn", "EventPattern"] {
        if !fields.contains_key(required) {
            anyhow::bail!(
                "{required} is required: give it in --config, as a flag, or --stack NAME (see --help)"
            );
        }
    }
    serde_json::from_value(Value::Object(fields)).context("invalid inputs")
}

fn read_pattern(text: &str) -> anyhow::Result<String> {
    match text.strip_prefix('@') {
        Some(path) => crate::input::read_to_string(std::path::Path::new(path))
            .with_context(|| format!("cannot read pattern file {path}")),
        None => Ok(text.into()),
    }
}

/// `planned`: the command that would make the changes, when they are only planned.
fn print_changes(planned: Option<&str>, changes: &[Change]) {
    if crate::output::json() {
        let list: Vec<String> = changes.iter().map(ToString::to_string).collect();
        println!("{}", json!({ "changes": list }));
        return;
    }
    match (planned, changes.is_empty()) {
        (Some(command), true) => {
            println!("{command} would change nothing: everything already matches")
        }
        (None, true) => println!("changed nothing: everything already matched"),
        (Some(command), false) => println!("{command} would make {} change(s):", changes.len()),
        (None, false) => println!("made {} change(s):", changes.len()),
    }
    for (index, change) in changes.iter().enumerate() {
        println!("  {}. {change}", index + 1);
    }
}

fn print_status(status: &Status) -> anyhow::Result<()> {
    if crate::output::json() {
        println!("{}", serde_json::to_string_pretty(status)?);
        return Ok(());
    }
    let missing = || "-".to_string();
    let mut table = Table::new();
    table.set_header(["", "Name / ARN", "State"]);
    table.add_row([
        "Okta log stream".to_string(),
        match (&status.log_stream_name, &status.log_stream_id) {
            (Some(name), Some(id)) => format!("{name} ({id})"),
            _ => missing(),
        },
        status
            .log_stream_status
            .map_or_else(missing, |s| format!("{s:?}").to_uppercase()),
    ]);
    table.add_row([
        "Partner event source".to_string(),
        status.partner_event_source.clone(),
        status
            .partner_event_source_state
            .clone()
            .unwrap_or_else(missing),
    ]);
    table.add_row([
        "Event bus".to_string(),
        status.event_bus_arn.clone().unwrap_or_else(missing),
        String::new(),
    ]);
    table.add_row([
        "Owner".to_string(),
        status.owner.clone().unwrap_or_else(missing),
        String::new(),
    ]);
    table.add_row([
        "Rule".to_string(),
        status.rule_arn.clone().unwrap_or_else(missing),
        status.rule_enabled.map_or_else(missing, |on| {
            if on {
                "ENABLED".into()
            } else {
                "DISABLED".into()
            }
        }),
    ]);
    for target in &status.targets {
        table.add_row(["Target".to_string(), target.clone(), String::new()]);
    }
    println!("{table}");
    if status.is_healthy() {
        println!("healthy: Okta streams to the bus and the rule targets the relay");
    }
    for problem in &status.problems {
        println!("problem: {problem}");
    }
    Ok(())
}
