//! `okta-relay backfill --since --until`: what Okta's stream did not send (it has no replay, and
//! sends nothing while deactivated), read from the System Log API by the watchdog's own backfill
//! ([`relay_core::backfill::backfill`], page by page) and fed through the same routes and
//! deliveries as the stream.

use std::process::ExitCode;

use anyhow::Context;
use aws_adapters::{TokenScope, WorkstationTokens};
use chrono::{DateTime, Utc};
use event_pattern::Pattern;
use okta::{OrgUrl, PartnerEventSource};
use okta_api::{MAX_PAGE_SIZE, OktaClient};
use std::future::Future;

use relay_core::InvocationMetrics;
use relay_core::backfill::{
    BackfillError, BackfillReport, Gap, PendingBackfill, Streamed, backfill,
};

use crate::replay::{Input, LocalRelay, RunArgs, print_plans};
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
    /// The EventBridge rule's pattern (the stack's `EventPattern`): events it would not have
    /// sent the relay are left out, as the watchdog's backfill does. Default: none left out.
    #[arg(long, value_name = "JSON")]
    event_pattern: Option<String>,
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
    let token =
        crate::okta_access::okta_api_token(args.api_token_parameter.as_deref(), &aws).await?;
    let okta = OktaClient::new(&org, args.okta_api_base_url.as_ref(), &token)?;

    let rule = args
        .event_pattern
        .as_deref()
        .map(Pattern::parse)
        .transpose()
        .context("--event-pattern")?;
    let region = aws.region().map_or("backfill".into(), ToString::to_string);
    let source = source.to_string();
    let streamed = Streamed {
        rule: rule.as_ref(),
        source: &source,
        account: BACKFILL_ACCOUNT,
        region: &region,
    };
    let mut window = PendingBackfill {
        gaps: vec![Gap {
            since: args.since,
            until: args.until,
            next: None,
        }],
    };
    let as_inputs = |payloads: Vec<Vec<u8>>| -> Vec<Input> {
        payloads.into_iter().map(Input::Payload).collect()
    };
    let (report, exit) = if args.run.dry_run {
        let shown = std::cell::Cell::new(0usize);
        let unreadable = std::cell::Cell::new(0u64);
        let report = read_window(&okta, &mut window, &streamed, args.page_size, |payloads| {
            let inputs = as_inputs(payloads);
            let printed = print_plans(&inputs, shown.get(), &table, Some(&org));
            shown.set(shown.get() + inputs.len());
            if let Ok(count) = &printed {
                unreadable.set(unreadable.get() + count);
            }
            std::future::ready(printed.map(|_| InvocationMetrics::default()))
        })
        .await?;
        let exit = if unreadable.get() > 0 {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        };
        (report, exit)
    } else {
        // The Okta API token this run read is never a flow's client token, whatever the routes say.
        let scope = TokenScope {
            under: None,
            never: args.api_token_parameter.clone(),
        };
        let local = LocalRelay::new(
            &table,
            Some(&org),
            WorkstationTokens::new(&aws, args.routes.access.ssm, scope),
            args.routes.idempotency(&aws),
            &args.run.dead_letters,
            args.run.budget(),
        )?;
        let report = read_window(&okta, &mut window, &streamed, args.page_size, |payloads| {
            let inputs = as_inputs(payloads);
            let local = &local;
            async move { local.relay(&inputs).await }
        })
        .await?;
        (report, local.finish())
    };
    eprintln!(
        "{} System Log events published from {} to {} ({} pages)",
        report.events,
        args.since.to_rfc3339(),
        args.until.to_rfc3339(),
        report.pages
    );
    Ok(exit)
}

/// The one backfill over the whole window, with nothing saved between pages (a workstation run
/// reads its window to the end or fails).
async fn read_window<Relay, Relayed, E>(
    okta: &OktaClient,
    window: &mut PendingBackfill,
    streamed: &Streamed<'_>,
    page_size: u32,
    relay: Relay,
) -> Result<BackfillReport, BackfillError<E>>
where
    Relay: FnMut(Vec<Vec<u8>>) -> Relayed,
    Relayed: Future<Output = Result<InvocationMetrics, E>>,
{
    backfill(okta, window, &(), streamed, page_size, || true, relay).await
}

/// The envelope's `account` for events a workstation reads back (the stream's account is not
/// known here; routes match on `source` and `detail`).
const BACKFILL_ACCOUNT: &str = "000000000000";
