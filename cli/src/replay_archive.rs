//! `okta-relay replay-archive`: EventBridge's own replay of a time window from the partner bus's
//! archive (template parameter `ArchiveRetentionDays`) to the rule that feeds the relay's inbox,
//! followed until it ends. The replayed events carry a `replay-name` and reach the flows through
//! the inbox like streamed ones (with de-duplication on, what they already had is skipped).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use aws_sdk_eventbridge::primitives::DateTime as AwsDateTime;
use aws_sdk_eventbridge::types::{ReplayDestination, ReplayState};
use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::stack::{StackArgs, StackValue, required};

#[derive(clap::Args)]
pub struct ReplayArchiveArgs {
    #[command(flatten)]
    stack: StackArgs,
    /// Start of the window (RFC 3339, included).
    #[arg(long, value_name = "TIME")]
    since: DateTime<Utc>,
    /// End of the window (RFC 3339, excluded).
    #[arg(long, value_name = "TIME")]
    until: DateTime<Utc>,
    /// The partner bus's archive (the stack's `ArchiveArn` output).
    #[arg(long, value_name = "ARN")]
    archive_arn: Option<String>,
    /// The partner bus (the stack's `EventBusArn` output): EventBridge replays only to the bus
    /// the archive was made for.
    #[arg(long, value_name = "ARN")]
    event_bus_arn: Option<String>,
    /// The rule to the relay's inbox (the stack's `RuleArn` output): the only rule replayed to.
    #[arg(long, value_name = "ARN")]
    rule_arn: Option<String>,
    /// The replay's name [default: okta-relay-<since>-<until>, which EventBridge keeps unique].
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// Seconds between two looks at the replay's state.
    #[arg(long, value_name = "SECONDS", default_value_t = 5)]
    poll_seconds: u64,
}

pub async fn run(mut args: ReplayArchiveArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.since < args.until, "--since must be before --until");
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let stack = args.stack.describe(&aws).await?;
    let stack = stack.as_ref();
    let archive = required(
        args.archive_arn.take(),
        "--archive-arn",
        stack,
        StackValue::Output("ArchiveArn"),
    )
    .context("the stack keeps an archive only with ArchiveRetentionDays above 0")?;
    let bus = required(
        args.event_bus_arn.take(),
        "--event-bus-arn",
        stack,
        StackValue::Output("EventBusArn"),
    )?;
    let rule = required(
        args.rule_arn.take(),
        "--rule-arn",
        stack,
        StackValue::Output("RuleArn"),
    )?;
    let name = args.name.clone().unwrap_or_else(|| {
        format!(
            "okta-relay-{}-{}",
            args.since.format("%Y%m%dT%H%M%S"),
            args.until.format("%Y%m%dT%H%M%S")
        )
    });
    let eventbridge = aws_sdk_eventbridge::Client::new(&aws);
    let destination = ReplayDestination::builder()
        .arn(&bus)
        .filter_arns(&rule)
        .build()
        .context("the replay's destination")?;
    eventbridge
        .start_replay()
        .replay_name(&name)
        .description("okta-relay replay-archive")
        .event_source_arn(&archive)
        .event_start_time(AwsDateTime::from_millis(args.since.timestamp_millis()))
        .event_end_time(AwsDateTime::from_millis(args.until.timestamp_millis()))
        .destination(destination)
        .send()
        .await
        .map_err(aws_sdk_eventbridge::Error::from)
        .with_context(|| format!("starting replay {name} from {archive} (events:StartReplay)"))?;
    let progress = ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template("{spinner} replay {msg} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let described = loop {
        let described = eventbridge
            .describe_replay()
            .replay_name(&name)
            .send()
            .await
            .map_err(aws_sdk_eventbridge::Error::from)
            .with_context(|| format!("following replay {name} (events:DescribeReplay)"))?;
        let state = described.state().cloned().unwrap_or(ReplayState::Starting);
        let replayed_to = described
            .event_last_replayed_time()
            .map(|time| time.to_string())
            .unwrap_or_else(|| "-".into());
        progress.set_message(format!(
            "{name}: {} (replayed up to {replayed_to})",
            state.as_str()
        ));
        if matches!(
            state,
            ReplayState::Completed | ReplayState::Failed | ReplayState::Cancelled
        ) {
            break described;
        }
        tokio::time::sleep(Duration::from_secs(args.poll_seconds.max(1))).await;
        progress.tick();
    };
    progress.finish_and_clear();
    let state = described.state().map_or("UNKNOWN", ReplayState::as_str);
    let reason = described.state_reason().unwrap_or_default();
    if crate::output::json() {
        println!(
            "{}",
            json!({
                "replayName": name, "state": state, "reason": reason,
                "since": args.since.to_rfc3339(), "until": args.until.to_rfc3339(),
                "lastReplayed": described.event_last_replayed_time().map(|time| time.to_string()),
            })
        );
    } else {
        println!(
            "replay {name}: {state}{} — events of {} to {} from {archive} went to rule {rule}; \
             EventBridge reports no count (the relay's EventsReceived metric shows what arrived)",
            if reason.is_empty() {
                String::new()
            } else {
                format!(" ({reason})")
            },
            args.since.to_rfc3339(),
            args.until.to_rfc3339(),
        );
    }
    Ok(if state == ReplayState::Completed.as_str() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
