//! `okta-relay doctor --stack NAME`: the whole path checked in one run, each step with a verdict
//! and, when it is not fine, the fix: the Okta stream (and who last turned it off), the partner
//! source, the bus and its owner, the rule and its target, the inbox and the dead-letter queue,
//! the routes, every client token, every endpoint host (resolved and its TLS checked with a
//! request to the host's root, never to a flow). Exit 0 only when events can flow end to end.

use std::collections::BTreeSet;
use std::process::ExitCode;
use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use comfy_table::Table;
use okta::LogStreamStatus;
use provisioning::Status;
use relay_core::{RouteTable, TokenSource};
use serde::Serialize;

use crate::provision::{ProvisionArgs, prepare};
use crate::route_source::RoutesArgs;
use crate::stack::{Stack, StackArgs, StackValue, optional};

#[derive(clap::Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    stack: StackArgs,
    #[command(flatten)]
    routes: RoutesArgs,
    /// Call Okta here instead of the org URL (a proxy; http only on 127.0.0.1 for tests).
    #[arg(long, env = "OKTA_API_BASE_URL", value_name = "URL", hide = true)]
    okta_api_base_url: Option<url::Url>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Ok,
    /// Events flow, but something needs a look (dead letters waiting, a local endpoint).
    Warn,
    /// Events do not reach their flows until this is fixed.
    Fail,
}

/// One step of the path.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub step: String,
    pub verdict: Verdict,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    fn new(step: impl Into<String>, verdict: Verdict, detail: impl Into<String>) -> Self {
        Self {
            step: step.into(),
            verdict,
            detail: detail.into(),
            fix: None,
        }
    }

    fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }
}

pub async fn run(mut args: DoctorArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.stack.stack.is_some(),
        "doctor checks a deployed stack: give --stack NAME (or OKTA_RELAY_STACK)"
    );
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let stack = args
        .stack
        .describe(&aws)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no stack given"))?;
    let mut checks = Vec::new();
    checks.extend(okta_and_eventbridge(&args, &stack).await);
    checks.extend(queues(&aws, &stack).await);
    args.routes.fill_from(Some(&stack));
    match args.routes.load(&aws).await {
        Ok(table) => {
            checks.push(Check::new(
                "Routes",
                Verdict::Ok,
                format!("{} routes read", table.routes().len()),
            ));
            checks.extend(tokens(&aws, &table).await);
            checks.extend(oauth_clients(&aws, &stack, &table, args.okta_api_base_url.as_ref()).await);
            checks.extend(endpoints(&table).await);
        }
        Err(error) => checks.push(
            Check::new("Routes", Verdict::Fail, format!("{error:#}"))
                .fix("fix the route table in the stack's RoutesParameterName (docs/routes.schema.json); `okta-relay replay --routes FILE --dry-run` checks a file"),
        ),
    }
    print(&checks)?;
    Ok(
        if checks.iter().any(|check| check.verdict == Verdict::Fail) {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        },
    )
}

/// The Okta stream and the AWS side of the path, as `okta-relay provision status` reads them.
async fn okta_and_eventbridge(args: &DoctorArgs, stack: &Stack) -> Vec<Check> {
    let provision = ProvisionArgs::for_stack(args.stack.clone(), args.okta_api_base_url.clone());
    let status = match prepare(&provision).await {
        Ok((spec, clients)) => provisioning::status(&spec, &clients.okta, &clients.buses)
            .await
            .map_err(anyhow::Error::from),
        Err(error) => Err(error),
    };
    match status {
        Ok(status) => path_checks(&status),
        Err(error) => vec![
            Check::new("Okta API", Verdict::Fail, format!("{error:#}")).fix(format!(
                "check the Okta API token in {} (a super administrator's, not expired) and the \
                 org URL",
                optional(
                    None,
                    Some(stack),
                    StackValue::Parameter("OktaApiTokenParameterName")
                )
                .unwrap_or_else(|| "the stack's OktaApiTokenParameterName".into())
            )),
        ],
    }
}

/// One check per part of the path, each with the problem `Status` words for it as its fix.
fn path_checks(status: &Status) -> Vec<Check> {
    let problem = |words: &[&str]| {
        status
            .problems
            .iter()
            .find(|problem| words.iter().any(|word| problem.contains(word)))
            .cloned()
    };
    let mut checks = Vec::new();
    let stream = match (&status.log_stream_status, &status.log_stream_name) {
        (Some(LogStreamStatus::Active), Some(name)) => {
            Check::new("Okta log stream", Verdict::Ok, format!("`{name}` ACTIVE"))
        }
        (Some(_), Some(name)) => {
            let who = status
                .deactivated
                .as_ref()
                .map(|event| {
                    format!(
                        ", turned off by {} at {}",
                        event.by,
                        event.published.to_rfc3339()
                    )
                })
                .unwrap_or_default();
            Check::new(
                "Okta log stream",
                Verdict::Fail,
                format!("`{name}` INACTIVE{who}"),
            )
            .fix(problem(&["log stream"]).unwrap_or_default())
        }
        _ => Check::new("Okta log stream", Verdict::Fail, "missing")
            .fix(problem(&["no Okta log stream"]).unwrap_or_default()),
    };
    checks.push(stream);
    let source_state = status
        .partner_event_source_state
        .as_deref()
        .unwrap_or("missing");
    checks.push(if source_state == "ACTIVE" {
        Check::new(
            "Partner event source",
            Verdict::Ok,
            &status.partner_event_source,
        )
    } else {
        Check::new(
            "Partner event source",
            Verdict::Fail,
            format!("{} {source_state}", status.partner_event_source),
        )
        .fix(problem(&["partner event source"]).unwrap_or_default())
    });
    checks.push(match &status.event_bus_arn {
        Some(arn) => Check::new(
            "Event bus",
            Verdict::Ok,
            format!(
                "{arn}, owner {}",
                status.owner.as_deref().unwrap_or("untagged")
            ),
        ),
        None => Check::new("Event bus", Verdict::Fail, "missing")
            .fix(problem(&["event bus"]).unwrap_or_default()),
    });
    let rule_problem = problem(&["rule `"]);
    checks.push(match (&status.rule_arn, &rule_problem) {
        (Some(_), None) => Check::new(
            "Rule and target",
            Verdict::Ok,
            format!("enabled → {}", status.targets.join(", ")),
        ),
        (_, Some(problem)) => {
            Check::new("Rule and target", Verdict::Fail, "not as provisioned").fix(problem.clone())
        }
        (None, None) => Check::new("Rule and target", Verdict::Fail, "missing")
            .fix("update the stack to create the rule again"),
    });
    checks
}

async fn queues(aws: &aws_config::SdkConfig, stack: &Stack) -> Vec<Check> {
    let sqs = aws_sdk_sqs::Client::new(aws);
    let mut checks = Vec::new();
    for (step, output) in [
        ("Inbox", "InboxQueueUrl"),
        ("Dead-letter queue", "RelayDeadLetterQueueUrl"),
    ] {
        let url = match stack.output(output) {
            Ok(url) => url,
            Err(error) => {
                checks.push(Check::new(step, Verdict::Fail, format!("{error:#}")));
                continue;
            }
        };
        let read = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
            .send()
            .await;
        let depth = |attributes: &std::collections::HashMap<QueueAttributeName, String>,
                     name: &QueueAttributeName| {
            attributes
                .get(name)
                .and_then(|value| value.parse::<u64>().ok())
                .unwrap_or(0)
        };
        checks.push(match read {
            Err(error) => Check::new(
                step,
                Verdict::Fail,
                format!("{}", aws_sdk_sqs::Error::from(error)),
            )
            .fix(format!("check that {url} exists and that you may read its attributes")),
            Ok(read) => {
                let attributes = read.attributes().cloned().unwrap_or_default();
                let visible = depth(&attributes, &QueueAttributeName::ApproximateNumberOfMessages);
                let delayed = depth(
                    &attributes,
                    &QueueAttributeName::ApproximateNumberOfMessagesDelayed,
                );
                let detail = format!("{visible} waiting, {delayed} delayed");
                if step == "Dead-letter queue" && visible + delayed > 0 {
                    Check::new(step, Verdict::Warn, detail).fix(format!(
                        "read the letters' reasons, fix the cause, then `okta-relay redrive --stack {}`",
                        stack.name
                    ))
                } else {
                    Check::new(step, Verdict::Ok, detail)
                }
            }
        });
    }
    checks
}

/// Every client token a route names is readable (its value is never printed).
async fn tokens(aws: &aws_config::SdkConfig, table: &RouteTable) -> Vec<Check> {
    let secrets = aws_adapters::SecretReader::new(aws);
    let sources: BTreeSet<String> = table
        .routes()
        .iter()
        .filter_map(|route| match route.auth.token_source()? {
            TokenSource::SsmParameter(name) | TokenSource::SecretsManager(name) => {
                Some(name.clone())
            }
            TokenSource::Env(_) => None,
        })
        .collect();
    let mut checks = Vec::new();
    for name in sources {
        let read = secrets.read(&name, "a client token").await;
        checks.push(match read {
            Ok(_) => Check::new(format!("Client token {name}"), Verdict::Ok, "readable"),
            Err(error) => Check::new(
                format!("Client token {name}"),
                Verdict::Fail,
                error.to_string(),
            )
            .fix(format!(
                "put the flow's client token (or the route's PEM key) in {} (Workflows: the \
                     flow's API endpoint settings)",
                TokenSource::named(&name)
            )),
        });
    }
    checks
}

/// Every OAuth client a route names gets a token from the org's authorization server (scope
/// `okta.workflows.invoke.manage`); no flow is invoked. The token is dropped.
async fn oauth_clients(
    aws: &aws_config::SdkConfig,
    stack: &Stack,
    table: &RouteTable,
    okta_api_base_url: Option<&url::Url>,
) -> Vec<Check> {
    let mut clients: Vec<(&relay_core::auth::OAuthClientRef, &url::Url)> = Vec::new();
    for route in table.routes() {
        if let relay_core::Auth::OAuth2(client) = &route.auth
            && !clients.iter().any(|(known, _)| *known == client)
        {
            clients.push((client, &route.endpoint));
        }
    }
    if clients.is_empty() {
        return Vec::new();
    }
    let base = match okta_api_base_url {
        Some(base) => Some(base.clone()),
        None => stack
            .parameter("OktaOrgUrl")
            .ok()
            .and_then(|org| url::Url::parse(&org).ok()),
    };
    let Ok(http) = workflows_client::workflows::http_client() else {
        return vec![Check::new(
            "OAuth clients",
            Verdict::Fail,
            "no HTTP client (TLS roots)",
        )];
    };
    let registry = workflows_client::auth::oauth2::OAuthClients::new(
        http,
        base.as_ref()
            .map(okta_oauth::ClientSettings::token_endpoint_of),
        Some(aws_sdk_kms::Client::new(aws)),
    );
    let scope = aws_adapters::TokenScope {
        under: optional(
            None,
            Some(stack),
            StackValue::Parameter("WorkflowsTokensPath"),
        ),
        never: optional(
            None,
            Some(stack),
            StackValue::Parameter("OktaApiTokenParameterName"),
        ),
        secrets_under: optional(
            None,
            Some(stack),
            StackValue::Parameter("WorkflowsSecretsPrefix"),
        ),
    };
    let tokens = aws_adapters::WorkstationTokens::ssm(aws, scope);
    let mut checks = Vec::new();
    for (client, endpoint) in clients {
        let step = format!("OAuth client {}", client.client_id);
        let issued = match registry.client(client, &tokens).await {
            Ok(oauth) => oauth
                .authorize("POST", endpoint)
                .await
                .map_err(|error| error.to_string()),
            Err(error) => Err(error.to_string()),
        };
        checks.push(match issued {
            Ok(_) => Check::new(
                step,
                Verdict::Ok,
                "a token was issued for okta.workflows.invoke.manage",
            ),
            Err(reason) => Check::new(step, Verdict::Fail, reason).fix(
                "register the key's public JWK on the API service app (`okta-relay auth jwks`), \
                 grant okta.workflows.invoke.manage, and match its DPoP setting to the route's",
            ),
        });
    }
    checks
}

/// Every endpoint host answers over TLS with a valid certificate. The request goes to the host's
/// root, never to a flow's URL, so no flow runs.
async fn endpoints(table: &RouteTable) -> Vec<Check> {
    let roots: BTreeSet<(String, String)> = table
        .routes()
        .iter()
        .filter_map(|route| {
            let url = &route.endpoint;
            let host = url.host_str()?;
            let port = url
                .port()
                .map(|port| format!(":{port}"))
                .unwrap_or_default();
            Some((url.scheme().to_string(), format!("{host}{port}")))
        })
        .collect();
    // okta-relay's one outbound policy: no redirects, bounded time.
    let client = outbound_http::client(&outbound_http::ClientSettings {
        timeout: Some(Duration::from_secs(10)),
        ..outbound_http::ClientSettings::default()
    });
    let Ok(client) = client else {
        return vec![Check::new(
            "Endpoints",
            Verdict::Fail,
            "no HTTP client (TLS roots)",
        )];
    };
    let mut checks = Vec::new();
    for (scheme, authority) in roots {
        let step = format!("Endpoint {authority}");
        if scheme != "https" {
            checks.push(Check::new(
                step,
                Verdict::Warn,
                format!("{scheme}, not https: a local endpoint"),
            ));
            continue;
        }
        let answer = client.head(format!("https://{authority}/")).send().await;
        checks.push(match answer {
            Ok(answer) => Check::new(
                step,
                Verdict::Ok,
                format!(
                    "TLS valid, the host answers (HTTP {})",
                    answer.status().as_u16()
                ),
            ),
            Err(error) => Check::new(step, Verdict::Fail, describe_connect_error(&error)).fix(
                "check the route's endpoint URL (copy it from the flow's API endpoint settings); \
                 the host must resolve and present a valid certificate",
            ),
        });
    }
    checks
}

/// What stopped a request, down to its root cause (resolution, TLS, refusal, time).
fn describe_connect_error(error: &reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        "no answer within 10 s".to_string()
    } else if error.is_connect() {
        "cannot connect".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn print(checks: &[Check]) -> anyhow::Result<()> {
    if crate::output::json() {
        println!("{}", serde_json::to_string_pretty(checks)?);
        return Ok(());
    }
    let mut table = Table::new();
    table.set_header(["Step", "Verdict", "Detail", "Fix"]);
    for check in checks {
        let verdict = match check.verdict {
            Verdict::Ok => "ok",
            Verdict::Warn => "WARN",
            Verdict::Fail => "FAIL",
        };
        table.add_row([
            check.step.as_str(),
            verdict,
            check.detail.as_str(),
            check.fix.as_deref().unwrap_or(""),
        ]);
    }
    println!("{table}");
    let failed = checks
        .iter()
        .filter(|check| check.verdict == Verdict::Fail)
        .count();
    if failed == 0 {
        println!("events can flow end to end");
    } else {
        println!("{failed} step(s) stop events from reaching their flows");
    }
    Ok(())
}
