//! `okta-relay redrive`: sends what waits in the dead-letter queue again, with the current route
//! table, and deletes each message only after every route it was for accepted it. Messages that
//! fail again, or cannot be sent again (rejected payloads), stay in the queue.

use std::collections::HashSet;
use std::process::ExitCode;
use std::time::Duration;

use aws_adapters::{QueuedLetter, SqsDeadLetters, SsmTokens};
use chrono::Utc;
use comfy_table::Table;
use delivery::workflows::http_client;
use delivery::{EnvTokens, RetryPolicy, TokenResolver, WorkflowsClient};
use indicatif::{ProgressBar, ProgressStyle};
use okta::OrgUrl;
use relay_core::redrive::{RedriveOutcome, read_dead_letter, select, send};
use relay_core::{Deduplicated, EnrichContext, RouteTable};

use crate::route_source::RoutesArgs;

#[derive(clap::Args)]
pub struct RedriveArgs {
    #[command(flatten)]
    routes: RoutesArgs,
    /// The dead-letter queue (the stack's `RelayDeadLetterQueueUrl` output).
    #[arg(long, env = "DEAD_LETTER_QUEUE_URL", value_name = "URL")]
    queue_url: String,
    /// List what would be sent, send nothing, delete nothing.
    #[arg(long)]
    dry_run: bool,
    /// Okta org URL, for `relay.orgHost` and System Log links in the payloads.
    #[arg(long, value_name = "URL")]
    org_url: Option<String>,
    /// Messages to handle at most.
    #[arg(long, default_value_t = 10_000)]
    limit: usize,
    /// Time each message may take, retries included.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    budget_seconds: u64,
}

#[derive(Default)]
struct Tally {
    redriven: usize,
    failed: usize,
    not_redrivable: usize,
    would_send: usize,
}

pub async fn run(args: RedriveArgs) -> anyhow::Result<ExitCode> {
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let table = args.routes.load(&aws).await?;
    let org = args.org_url.as_deref().map(OrgUrl::parse).transpose()?;
    let queue = SqsDeadLetters::new(aws_sdk_sqs::Client::new(&aws), args.queue_url.clone());
    if args.routes.ssm {
        let tokens = SsmTokens::new(aws_sdk_ssm::Client::new(&aws), Duration::from_secs(300));
        drain(&args, &aws, &queue, &table, org.as_ref(), tokens).await
    } else {
        drain(&args, &aws, &queue, &table, org.as_ref(), EnvTokens).await
    }
}

async fn drain(
    args: &RedriveArgs,
    aws: &aws_config::SdkConfig,
    queue: &SqsDeadLetters,
    table: &RouteTable,
    org: Option<&OrgUrl>,
    tokens: impl TokenResolver,
) -> anyhow::Result<ExitCode> {
    let deliver = Deduplicated::new(
        WorkflowsClient::new(http_client()?, tokens, RetryPolicy::default()),
        args.routes.idempotency(aws),
    );
    let budget = Duration::from_secs(args.budget_seconds);
    let progress = ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template("{spinner} {msg} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let mut tally = Tally::default();
    let mut seen = HashSet::new();
    'queue: while seen.len() < args.limit {
        let batch = queue
            .receive(args.budget_seconds.saturating_mul(2).min(43_200) as i32)
            .await
            .map_err(|reason| anyhow::anyhow!("reading {}: {reason}", args.queue_url))?;
        let (fresh, repeats): (Vec<QueuedLetter>, Vec<QueuedLetter>) = batch
            .into_iter()
            .partition(|letter| seen.insert(letter.message_id.clone()));
        // Kept messages come back to this reader too: hand them straight back.
        for letter in &repeats {
            queue
                .release(letter)
                .await
                .map_err(|reason| anyhow::anyhow!(reason))?;
        }
        if fresh.is_empty() {
            break;
        }
        for letter in fresh {
            let keep = handle(
                args, queue, table, org, &deliver, budget, &letter, &mut tally, &progress,
            )
            .await?;
            if keep {
                // Visible again at once: this run will not read it twice (`seen`), the next one can.
                queue
                    .release(&letter)
                    .await
                    .map_err(|reason| anyhow::anyhow!(reason))?;
            }
            progress.set_message(format!(
                "redriven {} · failed {} · not redrivable {}",
                tally.redriven, tally.failed, tally.not_redrivable
            ));
            if seen.len() >= args.limit {
                break 'queue;
            }
        }
    }
    progress.finish_and_clear();
    let mut summary = Table::new();
    summary.set_header(["Outcome", "Messages"]);
    if args.dry_run {
        summary.add_row([
            "would be sent again".to_string(),
            tally.would_send.to_string(),
        ]);
    } else {
        summary.add_row([
            "redriven and deleted".to_string(),
            tally.redriven.to_string(),
        ]);
        summary.add_row(["failed again (kept)".to_string(), tally.failed.to_string()]);
    }
    summary.add_row([
        "not redrivable (kept)".to_string(),
        tally.not_redrivable.to_string(),
    ]);
    println!("{summary}");
    Ok(if tally.failed + tally.not_redrivable > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Handles one message; `true` when it stays in the queue.
#[allow(clippy::too_many_arguments)] // one call site; a struct would only rename the arguments
async fn handle(
    args: &RedriveArgs,
    queue: &SqsDeadLetters,
    table: &RouteTable,
    org: Option<&OrgUrl>,
    deliver: &impl relay_core::Deliver,
    budget: Duration,
    letter: &QueuedLetter,
    tally: &mut Tally,
    progress: &ProgressBar,
) -> anyhow::Result<bool> {
    let redrive = match read_dead_letter(&letter.body) {
        Ok(redrive) => redrive,
        Err(reason) => {
            tally.not_redrivable += 1;
            progress.suspend(|| println!("kept {}: {reason}", letter.message_id));
            return Ok(true);
        }
    };
    let context = EnrichContext {
        org,
        now: Utc::now(),
    };
    let selected = match select(&redrive, table, &context) {
        Ok(selected) => selected,
        Err(reason) => {
            tally.failed += 1;
            progress.suspend(|| println!("kept {}: {reason}", letter.message_id));
            return Ok(true);
        }
    };
    if args.dry_run {
        tally.would_send += 1;
        let routes: Vec<&str> = selected
            .deliveries
            .iter()
            .map(|(route, _)| route.name.as_str())
            .collect();
        progress.suspend(|| {
            println!(
                "would send event {} to {}",
                selected.uuid,
                routes.join(", ")
            )
        });
        return Ok(true);
    }
    match send(&selected, deliver, budget).await {
        RedriveOutcome::Delivered { routes } => {
            queue
                .delete(letter)
                .await
                .map_err(|reason| anyhow::anyhow!(reason))?;
            tally.redriven += 1;
            progress.suspend(|| println!("sent event {} to {}", selected.uuid, routes.join(", ")));
            Ok(false)
        }
        RedriveOutcome::Failed { reason } => {
            tally.failed += 1;
            progress.suspend(|| {
                println!(
                    "kept {} (event {}): {reason}",
                    letter.message_id, selected.uuid
                )
            });
            Ok(true)
        }
    }
}
