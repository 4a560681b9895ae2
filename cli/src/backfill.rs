//! `okta-relay backfill --since --until`: what Okta's stream did not send (it has no replay, and
//! sends nothing while deactivated), read from the System Log API by the watchdog's own backfill
//! ([`relay_core::backfill::backfill`], page by page) and put in the stack's inbox
//! (`--inbox-queue-url`), where the relay delivers them paced with the live events. Without an
//! inbox (no stack: a local sink, a test org) this machine delivers them itself, unpaced by the
//! relay's containers.

use std::process::ExitCode;

use anyhow::Context;
use aws_adapters::{SqsInbox, TokenScope, WorkstationTokens};
use chrono::{DateTime, Utc};
use event_pattern::Pattern;
use okta::{OrgUrl, PartnerEventSource};
use okta_api::{MAX_PAGE_SIZE, OktaClient};
use std::future::Future;

use relay_core::backfill::{
    BackfillError, BackfillReport, Gap, PageRelayed, PendingBackfill, Streamed, backfill,
};
use relay_core::inbox::enqueue_events;

use crate::replay::{Input, LocalRelay, RunArgs, print_plans};
use crate::route_source::{DedupArgs, RoutesArgs, TokenArgs};
use crate::stack::{Stack, StackArgs, StackValue, optional, required};

#[derive(clap::Args)]
pub struct BackfillArgs {
    #[command(flatten)]
    stack: StackArgs,
    #[command(flatten)]
    routes: RoutesArgs,
    #[command(flatten)]
    tokens: TokenArgs,
    #[command(flatten)]
    dedup: DedupArgs,
    /// Start of the window (RFC 3339, included), e.g. the watchdog's `outage_since`.
    #[arg(long, value_name = "TIME")]
    since: DateTime<Utc>,
    /// End of the window (RFC 3339, excluded), e.g. the watchdog's `outage_until`.
    #[arg(long, value_name = "TIME")]
    until: DateTime<Utc>,
    #[arg(long, env = "OKTA_ORG_URL", value_name = "URL")]
    org_url: Option<String>,
    /// The stream's event source name: events get the partner source as `source`, so route
    /// patterns match them as they match streamed events [default: okta-relay].
    #[arg(long, value_name = "NAME")]
    event_source_name: Option<String>,
    /// SSM SecureString with the Okta API token (default: `OKTA_API_TOKEN` from the environment).
    #[arg(long, env = "OKTA_API_TOKEN_PARAMETER", value_name = "NAME")]
    api_token_parameter: Option<String>,
    /// The EventBridge rule's pattern (the stack's `EventPattern`): events it would not have
    /// sent the relay are left out, as the watchdog's backfill does. Default: none left out.
    #[arg(long, value_name = "JSON")]
    event_pattern: Option<String>,
    /// The stack's inbox queue (its `InboxQueueUrl` output): the events go there and the relay
    /// delivers them paced with the live ones. Without it this machine delivers them itself.
    #[arg(
        long,
        env = "INBOX_QUEUE_URL",
        value_name = "URL",
        conflicts_with = "dry_run"
    )]
    inbox_queue_url: Option<String>,
    #[command(flatten)]
    run: RunArgs,
    /// System Log events per page (Okta allows up to 1000).
    #[arg(long, default_value_t = MAX_PAGE_SIZE, value_name = "N")]
    page_size: u32,
    /// Call Okta here instead of the org URL (a proxy; http only on 127.0.0.1 for tests).
    #[arg(long, env = "OKTA_API_BASE_URL", value_name = "URL", hide = true)]
    okta_api_base_url: Option<url::Url>,
}

impl BackfillArgs {
    /// What was not given, from the stack: its org, event source, rule pattern, token
    /// parameter, routes, idempotency table and (unless this is a dry run) its inbox, where the
    /// relay delivers the window paced with the live events.
    fn fill_from(&mut self, stack: Option<&Stack>) -> anyhow::Result<()> {
        self.org_url = Some(required(
            self.org_url.take(),
            "--org-url",
            stack,
            StackValue::Parameter("OktaOrgUrl"),
        )?);
        let parameter = |given: &mut Option<String>, key| {
            *given = optional(given.take(), stack, StackValue::Parameter(key));
        };
        parameter(&mut self.event_source_name, "EventSourceName");
        parameter(&mut self.event_pattern, "EventPattern");
        parameter(&mut self.api_token_parameter, "OktaApiTokenParameterName");
        if !self.run.dry_run {
            self.inbox_queue_url = optional(
                self.inbox_queue_url.take(),
                stack,
                StackValue::Output("InboxQueueUrl"),
            );
        }
        self.routes.fill_from(stack);
        self.dedup.fill_from(stack);
        Ok(())
    }
}

pub async fn run(mut args: BackfillArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.since < args.until, "--since must be before --until");
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let stack = args.stack.describe(&aws).await?;
    args.fill_from(stack.as_ref())?;
    let org = OrgUrl::parse(args.org_url.as_deref().unwrap_or_default())?;
    let event_source_name = args.event_source_name.as_deref().unwrap_or("okta-relay");
    let source = PartnerEventSource::for_stream(&org, event_source_name)
        .with_context(|| format!("`{event_source_name}` is not a valid event source name"))?;
    let okta_base = args.okta_api_base_url.as_ref().unwrap_or(org.as_url());
    let credentials = crate::okta_access::okta_credentials(
        args.api_token_parameter.as_deref(),
        stack.as_ref(),
        &aws,
        okta_base,
    )
    .await?;
    let okta = OktaClient::new(&org, args.okta_api_base_url.as_ref(), credentials)?;

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
        ..PendingBackfill::default()
    };
    let as_inputs = |payloads: Vec<Vec<u8>>| -> Vec<Input> {
        payloads.into_iter().map(Input::Payload).collect()
    };
    let (report, exit) = if args.run.dry_run {
        let table = args.routes.load(&aws).await?;
        let shown = std::cell::Cell::new(0usize);
        let unreadable = std::cell::Cell::new(0u64);
        let report = read_window(&okta, &mut window, &streamed, args.page_size, |payloads| {
            let inputs = as_inputs(payloads);
            let printed = print_plans(&inputs, shown.get(), &table, Some(&org));
            shown.set(shown.get() + inputs.len());
            if let Ok(count) = &printed {
                unreadable.set(unreadable.get() + count);
            }
            std::future::ready(printed.map(|_| PageRelayed::default()))
        })
        .await?;
        let exit = if unreadable.get() > 0 {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        };
        (report, exit)
    } else if let Some(queue_url) = &args.inbox_queue_url {
        let inbox = SqsInbox::new(aws_sdk_sqs::Client::new(&aws), queue_url.clone());
        let report = read_window(&okta, &mut window, &streamed, args.page_size, |payloads| {
            let inbox = &inbox;
            async move { enqueue_events(inbox, &payloads).await }
        })
        .await?;
        if crate::output::json() {
            let summary = serde_json::json!({"report": report, "inbox": queue_url,
                "since": args.since.to_rfc3339(), "until": args.until.to_rfc3339()});
            println!("{summary}");
        } else {
            eprintln!("{} events put in the inbox {queue_url}", report.queued);
        }
        (report, ExitCode::SUCCESS)
    } else {
        let table = args.routes.load(&aws).await?;
        // The Okta API token this run read is never a flow's client token, whatever the routes say.
        let scope = TokenScope {
            under: None,
            never: args.api_token_parameter.clone(),
            secrets_under: None,
        };
        let local = LocalRelay::new(
            &table,
            Some(&org),
            WorkstationTokens::new(&aws, args.tokens.ssm, scope),
            args.dedup.idempotency(&aws),
            &args.run.dead_letters,
            args.run.budget(),
        )?;
        let report = read_window(&okta, &mut window, &streamed, args.page_size, |payloads| {
            let inputs = as_inputs(payloads);
            let local = &local;
            async move { local.relay(&inputs).await.map(|m| PageRelayed::from(&m)) }
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
    Relayed: Future<Output = Result<PageRelayed, E>>,
{
    backfill(okta, window, &(), streamed, page_size, || true, relay).await
}

/// The envelope's `account` for events a workstation reads back (the stream's account is not
/// known here; routes match on `source` and `detail`).
const BACKFILL_ACCOUNT: &str = "000000000000";
