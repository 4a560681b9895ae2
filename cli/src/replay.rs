//! `okta-relay replay`: the relay's pipeline outside Lambda, over a file of raw Okta events or
//! EventBridge envelopes. Deliveries are real HTTP requests (the same client and retry policy as
//! the Lambda); dead letters go to a JSON-lines file; `--dry-run` prints the payloads instead.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context;
use aws_adapters::{DynamoDbIdempotency, TokenScope, WorkstationTokens};
use chrono::Utc;
use comfy_table::Table;
use indicatif::{ProgressBar, ProgressStyle};
use okta::OrgUrl;
use relay_core::{
    DeadLetter, DeadLetterError, DeadLetterSink, Deliver, DeliveryReport, DeliveryRequest,
    EnrichContext, InvocationMetrics, Outcome, RouteTable, relay_invocation, route_event,
};
use serde_json::{Value, json};

use crate::input::{Line, next_line};
use crate::route_source::{AccessArgs, TokenArgs, WorkstationDelivery, workstation_delivery};

#[derive(clap::Args)]
pub struct ReplayArgs {
    /// Route table (JSON, the format of docs/routes.schema.json).
    #[arg(long, value_name = "FILE")]
    routes: PathBuf,
    /// Okta events, one JSON per line: raw System Log events or EventBridge envelopes.
    /// `-` or absent reads stdin.
    #[arg(value_name = "EVENTS.jsonl")]
    events: Option<PathBuf>,
    #[command(flatten)]
    run: RunArgs,
    #[command(flatten)]
    access: AccessArgs,
    #[command(flatten)]
    tokens: TokenArgs,
    /// Okta org URL, for `relay.orgHost` and System Log links (default: derived from each
    /// event's partner source name).
    #[arg(long, value_name = "URL")]
    org_url: Option<String>,
    /// EventBridge `source` given to raw Okta events.
    #[arg(long, default_value = "okta-relay.replay")]
    source: String,
}

/// How a local run of the pipeline sends (replay, backfill).
#[derive(clap::Args)]
pub struct RunArgs {
    /// Print the payload each route would receive (JSON lines) and send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Where failed deliveries and unreadable lines are written, as JSON lines.
    #[arg(
        long,
        value_name = "FILE",
        default_value = "okta-relay-dead-letters.jsonl"
    )]
    pub dead_letters: PathBuf,
    /// Time each event may take, retries included (a Lambda timeout's worth).
    #[arg(long, value_name = "SECONDS", default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub budget_seconds: u64,
}

impl RunArgs {
    pub fn budget(&self) -> Duration {
        Duration::from_secs(self.budget_seconds)
    }
}

pub async fn run(args: ReplayArgs) -> anyhow::Result<ExitCode> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "off".into()),
        )
        .init();
    let text = crate::input::read_to_string(&args.routes)
        .with_context(|| format!("cannot read {}", args.routes.display()))?;
    let table = RouteTable::from_json(&text, args.access.load_options()?)
        .with_context(|| format!("routes file {}", args.routes.display()))?;
    let org = args.org_url.as_deref().map(OrgUrl::parse).transpose()?;
    let payloads = read_inputs(args.events.as_deref(), &args.source)?;

    if args.run.dry_run {
        return dry_run(&payloads, &table, org.as_ref());
    }
    // AWS configuration only when SSM is asked for: a local run makes no AWS call at all.
    let tokens = if args.tokens.ssm {
        let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        WorkstationTokens::ssm(&aws, TokenScope::default())
    } else {
        WorkstationTokens::Env
    };
    relay_all(
        &payloads,
        &table,
        org.as_ref(),
        tokens,
        None,
        &args.run.dead_letters,
        args.run.budget(),
    )
    .await
}

/// Relays each payload through the pipeline (real deliveries, dead letters appended to
/// `dead_letters`), then prints a table per route. Exit code 1 if anything was dead-lettered.
pub async fn relay_all(
    payloads: &[Input],
    table: &RouteTable,
    org: Option<&OrgUrl>,
    tokens: WorkstationTokens,
    store: Option<DynamoDbIdempotency>,
    dead_letters: &Path,
    budget: Duration,
) -> anyhow::Result<ExitCode> {
    let local = LocalRelay::new(table, org, tokens, store, dead_letters, budget)?;
    local.relay(payloads).await?;
    Ok(local.finish())
}

/// The relay's pipeline on a workstation (replay, backfill): real deliveries, one event after
/// the other, dead letters appended to a file, and a summary per route at the end.
pub struct LocalRelay<'a> {
    table: &'a RouteTable,
    org: Option<&'a OrgUrl>,
    deliver: Recorded<WorkstationDelivery>,
    dead_letters: DeadLetterFile,
    budget: Duration,
    progress: ProgressBar,
    total: Mutex<InvocationMetrics>,
}

impl<'a> LocalRelay<'a> {
    pub fn new(
        table: &'a RouteTable,
        org: Option<&'a OrgUrl>,
        tokens: WorkstationTokens,
        store: Option<DynamoDbIdempotency>,
        dead_letters: &Path,
        budget: Duration,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            table,
            org,
            deliver: Recorded {
                inner: workstation_delivery(tokens, store)?,
                reports: Mutex::default(),
            },
            dead_letters: DeadLetterFile {
                path: dead_letters.to_path_buf(),
            },
            budget,
            progress: ProgressBar::new(0).with_style(
                ProgressStyle::with_template(
                    "{spinner} relaying {pos}/{len} events [{bar:30}] {elapsed}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            ),
            total: Mutex::default(),
        })
    }

    /// Relays `inputs` in order; fails only when a dead letter cannot be written.
    pub async fn relay(&self, inputs: &[Input]) -> Result<InvocationMetrics, DeadLetterError> {
        self.progress.inc_length(inputs.len() as u64);
        let mut relayed = InvocationMetrics::default();
        for input in inputs {
            let context = EnrichContext {
                org: self.org,
                now: Utc::now(),
            };
            let metrics = match input {
                Input::Payload(payload) => {
                    relay_invocation(
                        payload,
                        self.table,
                        &context,
                        self.budget,
                        &self.deliver,
                        &self.dead_letters,
                    )
                    .await?
                }
                Input::Unreadable { start, reason } => {
                    self.dead_letters
                        .send(&[DeadLetter::rejected(start, reason.clone(), context.now)])
                        .await?;
                    InvocationMetrics {
                        received: 1,
                        bad_input: 1,
                        dead_lettered: 1,
                        ..Default::default()
                    }
                }
            };
            relayed.add(&metrics);
            self.progress.inc(1);
        }
        if let Ok(mut total) = self.total.lock() {
            total.add(&relayed);
        }
        Ok(relayed)
    }

    /// Prints the table per route and the totals. Exit code 1 if anything was dead-lettered.
    pub fn finish(self) -> ExitCode {
        self.progress.finish_and_clear();
        let total = self.total.into_inner().unwrap_or_default();
        let reports = self.deliver.reports.into_inner().unwrap_or_default();
        let rows = route_rows(self.table, &reports);
        let code = if total.dead_lettered > 0 {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        };
        if crate::output::json() {
            let summary = serde_json::json!({
                "routes": rows,
                "events": total.received, "matched": total.matched,
                "filteredOut": total.filtered_out, "badInput": total.bad_input,
                "delivered": total.delivered, "deadLettered": total.dead_lettered,
                "duplicatesSkipped": total.duplicates_skipped,
                "deadLetters": (total.dead_lettered > 0).then(|| self.dead_letters.path.display().to_string()),
            });
            println!("{summary}");
            return code;
        }
        println!("{}", route_table(&rows));
        println!(
            "events {} · matched {} · filtered out {} · bad input {} · delivered {} · dead-lettered {}",
            total.received,
            total.matched,
            total.filtered_out,
            total.bad_input,
            total.delivered,
            total.dead_lettered
        );
        if total.duplicates_skipped > 0 {
            println!(
                "{} deliveries skipped: the idempotency table says they were made before",
                total.duplicates_skipped
            );
        }
        if total.dead_lettered > 0 {
            println!(
                "dead letters appended to {}",
                self.dead_letters.path.display()
            );
            return ExitCode::from(1);
        }
        ExitCode::SUCCESS
    }
}

/// Prints the payload each route would receive, one JSON per line; sends nothing.
pub fn dry_run(
    payloads: &[Input],
    table: &RouteTable,
    org: Option<&OrgUrl>,
) -> anyhow::Result<ExitCode> {
    let unreadable = print_plans(payloads, 0, table, org)?;
    Ok(if unreadable > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Prints what each route would receive for `payloads` (numbered from `first_line`); returns
/// how many could not be read.
pub fn print_plans(
    payloads: &[Input],
    first_line: usize,
    table: &RouteTable,
    org: Option<&OrgUrl>,
) -> std::io::Result<u64> {
    let mut stdout = std::io::stdout().lock();
    let mut unreadable = 0;
    for (index, input) in payloads.iter().enumerate() {
        let line_number = first_line + index + 1;
        let payload = match input {
            Input::Payload(payload) => payload,
            Input::Unreadable { reason, .. } => {
                unreadable += 1;
                eprintln!("line {line_number}: {reason}");
                continue;
            }
        };
        let context = EnrichContext {
            org,
            now: Utc::now(),
        };
        match route_event(payload, table, &context) {
            Ok(plan) => {
                for (route, body) in &plan.deliveries {
                    let payload: Value = serde_json::from_slice(body)?;
                    let line = json!({"route": route.name, "endpoint": route.endpoint.as_str(), "uuid": plan.uuid, "payload": payload});
                    writeln!(stdout, "{line}")?;
                }
            }
            Err(bad_input) => {
                unreadable += 1;
                eprintln!("line {line_number}: {bad_input}");
            }
        }
    }
    Ok(unreadable)
}

/// One event to relay, or a line that could not even be read as one.
pub enum Input {
    Payload(Vec<u8>),
    /// A line over [`MAX_LINE_BYTES`](crate::input::MAX_LINE_BYTES): what was kept of it and why it is refused.
    Unreadable {
        start: Vec<u8>,
        reason: String,
    },
}

/// Reads event lines (bounded, bytes: invalid UTF-8 is the pipeline's bad input, not a stop),
/// skipping blank ones.
fn read_inputs(path: Option<&Path>, source: &str) -> anyhow::Result<Vec<Input>> {
    let mut reader: Box<dyn BufRead> = match path {
        None => Box::new(std::io::stdin().lock()),
        Some(path) if path == Path::new("-") => Box::new(std::io::stdin().lock()),
        Some(path) => Box::new(std::io::BufReader::new(
            std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?,
        )),
    };
    let mut inputs = Vec::new();
    while let Some(line) = next_line(&mut reader).context("cannot read events")? {
        match line {
            Line::Whole(bytes) if bytes.trim_ascii().is_empty() => {}
            Line::Whole(bytes) => {
                inputs.push(Input::Payload(as_envelope(bytes, inputs.len(), source)))
            }
            Line::TooLong { start, bytes } => inputs.push(Input::Unreadable {
                start,
                reason: Line::too_long_reason(bytes),
            }),
        }
    }
    Ok(inputs)
}

/// EventBridge envelopes pass through as they are; a raw Okta event is wrapped the way
/// EventBridge would deliver it; anything else passes through for the pipeline to reject.
fn as_envelope(line: Vec<u8>, index: usize, source: &str) -> Vec<u8> {
    let Ok(Value::Object(event)) = event_pattern::strict_json::from_slice(&line) else {
        return line;
    };
    if event.contains_key("detail")
        || !(event.contains_key("uuid") && event.contains_key("eventType"))
    {
        return line;
    }
    relay_core::envelope::as_delivered(
        Value::Object(event),
        &format!("replay-{}", index + 1),
        source,
        "000000000000",
        "local",
    )
}

/// A [`Deliver`] that remembers each route's report, for the summary table.
struct Recorded<D> {
    inner: D,
    reports: Mutex<Vec<(String, DeliveryReport)>>,
}

impl<D: Deliver> Deliver for Recorded<D> {
    async fn prepare(&self, route: &relay_core::routes::Route) {
        self.inner.prepare(route).await;
    }

    async fn deliver(&self, request: DeliveryRequest<'_>) -> DeliveryReport {
        let route = request.route.name.clone();
        let report = self.inner.deliver(request).await;
        if let Ok(mut reports) = self.reports.lock() {
            reports.push((route, report.clone()));
        }
        report
    }
}

/// Dead letters appended to a local file, one JSON per line.
struct DeadLetterFile {
    path: PathBuf,
}

impl DeadLetterSink for DeadLetterFile {
    async fn send(&self, letters: &[DeadLetter]) -> Result<(), DeadLetterError> {
        let failed = |reason: String| DeadLetterError {
            count: letters.len(),
            destination: self.path.display().to_string(),
            reason,
        };
        let mut text = String::new();
        for letter in letters {
            text.push_str(
                &serde_json::to_string(letter).map_err(|error| failed(error.to_string()))?,
            );
            text.push('\n');
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|error| failed(error.to_string()))?;
        file.write_all(text.as_bytes())
            .map_err(|error| failed(error.to_string()))
    }
}

/// What happened per route, in the route table's order.
#[derive(Debug, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct RouteRow {
    route: String,
    matched: u64,
    delivered: u64,
    duplicates_skipped: u64,
    dead_lettered: u64,
    retries: u64,
    p50_ms: Option<u128>,
    max_ms: Option<u128>,
    #[serde(skip)]
    latencies_ms: Vec<u128>,
}

fn route_rows(table: &RouteTable, reports: &[(String, DeliveryReport)]) -> Vec<RouteRow> {
    let mut rows: Vec<RouteRow> = table
        .routes()
        .iter()
        .map(|route| RouteRow {
            route: route.name.clone(),
            ..RouteRow::default()
        })
        .collect();
    for (route, report) in reports {
        let Some(row) = rows.iter_mut().find(|row| &row.route == route) else {
            continue;
        };
        row.matched += 1;
        row.retries += u64::from(report.attempts.saturating_sub(1));
        row.latencies_ms.push(report.latency.as_millis());
        match report.outcome {
            Outcome::AlreadyDelivered => row.duplicates_skipped += 1,
            Outcome::Delivered => row.delivered += 1,
            Outcome::Rejected(_) | Outcome::GaveUp(_) => row.dead_lettered += 1,
        }
    }
    for row in &mut rows {
        row.latencies_ms.sort_unstable();
        row.p50_ms = row.latencies_ms.get(row.latencies_ms.len() / 2).copied();
        row.max_ms = row.latencies_ms.last().copied();
    }
    rows
}

fn route_table(rows: &[RouteRow]) -> Table {
    let mut output = Table::new();
    output.set_header([
        "route",
        "matched",
        "delivered",
        "duplicates skipped",
        "dead-lettered",
        "retries",
        "p50 ms",
        "max ms",
    ]);
    let ms = |value: Option<u128>| value.map_or("-".into(), |ms| ms.to_string());
    for row in rows {
        output.add_row([
            row.route.clone(),
            row.matched.to_string(),
            row.delivered.to_string(),
            row.duplicates_skipped.to_string(),
            row.dead_lettered.to_string(),
            row.retries.to_string(),
            ms(row.p50_ms),
            ms(row.max_ms),
        ]);
    }
    output
}
