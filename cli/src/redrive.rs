//! `okta-relay redrive`: sends what waits in the dead-letter queue again, with the current route
//! table, and deletes each message only after every route it was for accepted it. Messages that
//! fail again, or cannot be sent again (rejected payloads), stay in the queue.

use std::process::ExitCode;
use std::time::Duration;

use aws_adapters::{SqsDeadLetters, TokenScope, WorkstationTokens};
use comfy_table::Table;
use indicatif::{ProgressBar, ProgressStyle};
use okta::OrgUrl;
use relay_core::RouteTable;
use relay_core::redrive::{DrainOptions, Handled, Redriver, Tally};

use crate::route_source::{RoutesArgs, workstation_delivery};

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
    #[arg(long, value_name = "SECONDS", default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(1..=86_400))]
    budget_seconds: u64,
}

pub async fn run(args: RedriveArgs) -> anyhow::Result<ExitCode> {
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let table = args.routes.load(&aws).await?;
    let org = args.org_url.as_deref().map(OrgUrl::parse).transpose()?;
    let queue = SqsDeadLetters::new(aws_sdk_sqs::Client::new(&aws), args.queue_url.clone());
    let tokens = WorkstationTokens::new(&aws, args.routes.access.ssm, TokenScope::default());
    drain(&args, &aws, &queue, &table, org.as_ref(), tokens).await
}

async fn drain(
    args: &RedriveArgs,
    aws: &aws_config::SdkConfig,
    queue: &SqsDeadLetters,
    table: &RouteTable,
    org: Option<&OrgUrl>,
    tokens: WorkstationTokens,
) -> anyhow::Result<ExitCode> {
    let deliver = workstation_delivery(tokens, args.routes.idempotency(aws))?;
    let options = DrainOptions {
        dry_run: args.dry_run,
        limit: args.limit,
        budget: Duration::from_secs(args.budget_seconds),
    };
    let progress = ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template("{spinner} {msg} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let mut so_far = Tally::default();
    let tally = relay_core::redrive::drain(
        queue,
        &Redriver {
            table,
            org,
            deliver: &deliver,
        },
        &options,
        || true,
        |handled| {
            progress.suspend(|| println!("{}", describe(handled)));
            so_far.count(handled);
            progress.set_message(format!(
                "redriven {} · failed {} · not redrivable {}",
                so_far.redriven, so_far.kept, so_far.not_redrivable
            ));
        },
    )
    .await
    .map_err(anyhow::Error::msg)?;
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
        summary.add_row(["failed again (kept)".to_string(), tally.kept.to_string()]);
    }
    summary.add_row([
        "not redrivable (kept)".to_string(),
        tally.not_redrivable.to_string(),
    ]);
    println!("{summary}");
    Ok(if tally.left() > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn describe(handled: &Handled) -> String {
    match handled {
        Handled::Redriven { uuid, routes, .. } => {
            format!("sent event {uuid} to {}", routes.join(", "))
        }
        Handled::WouldSend { uuid, routes, .. } => {
            format!("would send event {uuid} to {}", routes.join(", "))
        }
        Handled::Kept {
            message_id,
            uuid: Some(uuid),
            reason,
        } => format!("kept {message_id} (event {uuid}): {reason}"),
        Handled::Kept {
            message_id, reason, ..
        }
        | Handled::NotRedrivable { message_id, reason } => format!("kept {message_id}: {reason}"),
    }
}
