//! `okta-relay redrive`: puts what waits in the dead-letter queue back in the stack's inbox, owing
//! the routes it failed on (checked against the current route table), and deletes each message
//! once the inbox has it; the relay then delivers it paced like every other event. Messages whose
//! route is gone, or that cannot be sent again (rejected payloads), stay in the queue.

use std::process::ExitCode;
use std::time::Duration;

use aws_adapters::{SqsDeadLetters, SqsInbox};
use comfy_table::Table;
use indicatif::{ProgressBar, ProgressStyle};
use okta::OrgUrl;
use relay_core::redrive::{DrainOptions, Handled, Redriver, Tally};

use crate::route_source::RoutesArgs;
use crate::stack::{StackArgs, StackValue, optional, required};

/// How long a message read stays hidden while the drain goes on.
const HIDE: Duration = Duration::from_secs(60);

#[derive(clap::Args)]
pub struct RedriveArgs {
    #[command(flatten)]
    stack: StackArgs,
    #[command(flatten)]
    routes: RoutesArgs,
    /// The dead-letter queue (the stack's `RelayDeadLetterQueueUrl` output).
    #[arg(long, env = "DEAD_LETTER_QUEUE_URL", value_name = "URL")]
    queue_url: Option<String>,
    /// The stack's inbox (its `InboxQueueUrl` output), where the messages go back.
    #[arg(long, env = "INBOX_QUEUE_URL", value_name = "URL")]
    inbox_queue_url: Option<String>,
    /// List what would be sent again; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Okta org URL, for `relay.orgHost` when route patterns read it.
    #[arg(long, value_name = "URL")]
    org_url: Option<String>,
    /// Messages to handle at most.
    #[arg(long, default_value_t = 10_000)]
    limit: usize,
}

pub async fn run(mut args: RedriveArgs) -> anyhow::Result<ExitCode> {
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let stack = args.stack.describe(&aws).await?;
    let stack = stack.as_ref();
    let queue_url = required(
        args.queue_url.take(),
        "--queue-url",
        stack,
        StackValue::Output("RelayDeadLetterQueueUrl"),
    )?;
    let inbox_queue_url = required(
        args.inbox_queue_url.take(),
        "--inbox-queue-url",
        stack,
        StackValue::Output("InboxQueueUrl"),
    )?;
    args.routes.fill_from(stack);
    let org_url = optional(
        args.org_url.take(),
        stack,
        StackValue::Parameter("OktaOrgUrl"),
    );
    let table = args.routes.load(&aws).await?;
    let org = org_url.as_deref().map(OrgUrl::parse).transpose()?;
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let queue = SqsDeadLetters::new(sqs.clone(), queue_url);
    let inbox = SqsInbox::new(sqs, inbox_queue_url);
    let options = DrainOptions {
        dry_run: args.dry_run,
        limit: args.limit,
        hide: HIDE,
    };
    let progress = ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template("{spinner} {msg} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let mut so_far = Tally::default();
    let tally = relay_core::redrive::drain(
        &queue,
        &Redriver {
            table: &table,
            org: org.as_ref(),
            inbox: &inbox,
        },
        &options,
        || true,
        |handled| {
            progress.suspend(|| {
                if crate::output::json() {
                    eprintln!("{}", describe(handled));
                } else {
                    println!("{}", describe(handled));
                }
            });
            so_far.count(handled);
            progress.set_message(format!(
                "back in the inbox {} · kept {} · not redrivable {}",
                so_far.redriven, so_far.kept, so_far.not_redrivable
            ));
        },
    )
    .await
    .map_err(anyhow::Error::msg)?;
    progress.finish_and_clear();
    if crate::output::json() {
        println!("{}", serde_json::to_string(&tally)?);
        return Ok(exit_code(&tally));
    }
    let mut summary = Table::new();
    summary.set_header(["Outcome", "Messages"]);
    if args.dry_run {
        summary.add_row([
            "would be sent again".to_string(),
            tally.would_send.to_string(),
        ]);
    } else {
        summary.add_row([
            "back in the inbox, deleted".to_string(),
            tally.redriven.to_string(),
        ]);
        summary.add_row(["kept".to_string(), tally.kept.to_string()]);
    }
    summary.add_row([
        "not redrivable (kept)".to_string(),
        tally.not_redrivable.to_string(),
    ]);
    println!("{summary}");
    Ok(exit_code(&tally))
}

/// 1 while letters are left for a person.
fn exit_code(tally: &Tally) -> ExitCode {
    if tally.left() > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn describe(handled: &Handled) -> String {
    match handled {
        Handled::Redriven { uuid, routes, .. } if routes.is_empty() => {
            format!("event {uuid} matches no route any more: deleted")
        }
        Handled::Redriven { uuid, routes, .. } => {
            format!("event {uuid} back in the inbox for {}", routes.join(", "))
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
