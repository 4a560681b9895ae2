//! `okta-relay backfill --since --until`: what Okta's stream did not send (it has no replay, and
//! sends nothing while deactivated), read from the System Log API and fed through the same routes
//! and deliveries as the stream.

use std::process::ExitCode;

use anyhow::Context;
use aws_adapters::{TokenScope, WorkstationTokens};
use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use okta::{OrgUrl, PartnerEventSource};
use okta_api::{MAX_PAGE_SIZE, OktaClient};
use relay_core::backfill::as_streamed;
use serde_json::Value;

use crate::replay::{Input, RunArgs, dry_run, relay_all};
use crate::route_source::RoutesArgs;

#[derive(clap::Args)]
pub struct BackfillArgs {
    #[command(flatten)]
    routes: RoutesArgs,
    /// Start of the window (RFC 3339, included), e.g. the watchdog's `outage_since`.
    #[arg(long, value_name = "TIME")]
    since: DateTime<Utc>,
    /// End of the window (RFC 3339, excluded), e.g. the watchdog's `outage_until`.
    #[arg(long, value_name = "TIME")]
    until: DateTime<Utc>,
    #[arg(long, env = "OKTA_ORG_URL", value_name = "URL")]
    org_url: String,
    /// The stream's event source name: events get the partner source as `source`, so route
    /// patterns match them as they match streamed events.
    #[arg(long, default_value = "okta-relay", value_name = "NAME")]
    event_source_name: String,
    /// SSM SecureString with the Okta API token (default: `OKTA_API_TOKEN` from the environment).
    #[arg(long, env = "OKTA_API_TOKEN_PARAMETER", value_name = "NAME")]
    api_token_parameter: Option<String>,
    #[command(flatten)]
    run: RunArgs,
    /// System Log events per page (Okta allows up to 1000).
    #[arg(long, default_value_t = MAX_PAGE_SIZE, value_name = "N")]
    page_size: u32,
    /// Call Okta here instead of the org URL (a proxy; http only on 127.0.0.1 for tests).
    #[arg(long, env = "OKTA_API_BASE_URL", value_name = "URL", hide = true)]
    okta_api_base_url: Option<url::Url>,
}

pub async fn run(args: BackfillArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.since < args.until, "--since must be before --until");
    let org = OrgUrl::parse(&args.org_url)?;
    let source =
        PartnerEventSource::for_stream(&org, &args.event_source_name).with_context(|| {
            format!(
                "`{}` is not a valid event source name",
                args.event_source_name
            )
        })?;
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let table = args.routes.load(&aws).await?;
    let token = crate::provision::okta_api_token(args.api_token_parameter.as_deref(), &aws).await?;
    let okta = OktaClient::new(&org, args.okta_api_base_url.as_ref(), &token)?;

    let events = read_window(&okta, &args).await?;
    eprintln!(
        "{} System Log events published from {} to {}",
        events.len(),
        args.since.to_rfc3339(),
        args.until.to_rfc3339()
    );
    let region = aws.region().map_or("backfill".into(), ToString::to_string);
    let payloads: Vec<Input> = events
        .into_iter()
        .map(|event| {
            Input::Payload(as_streamed(
                event,
                &source.to_string(),
                BACKFILL_ACCOUNT,
                &region,
            ))
        })
        .collect();
    if args.run.dry_run {
        return dry_run(&payloads, &table, Some(&org));
    }
    let budget = args.run.budget();
    // The Okta API token this run read is never a flow's client token, whatever the routes say.
    let scope = TokenScope {
        under: None,
        never: args.api_token_parameter.clone(),
    };
    relay_all(
        &payloads,
        &table,
        Some(&org),
        WorkstationTokens::new(&aws, args.routes.ssm, scope),
        args.routes.idempotency(&aws),
        &args.run.dead_letters,
        budget,
    )
    .await
}

async fn read_window(okta: &OktaClient, args: &BackfillArgs) -> anyhow::Result<Vec<Value>> {
    let progress = ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template("{spinner} reading the System Log: {pos} events {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let mut events = Vec::new();
    let mut next = Some(okta.system_log_start(args.since, args.until, args.page_size));
    while let Some(cursor) = next {
        let page = okta.system_log_page(&cursor).await?;
        progress.inc(page.events.len() as u64);
        events.extend(page.events);
        next = page.next;
    }
    progress.finish_and_clear();
    Ok(events)
}

/// The envelope's `account` for events a workstation reads back (the stream's account is not
/// known here; routes match on `source` and `detail`).
const BACKFILL_ACCOUNT: &str = "000000000000";
