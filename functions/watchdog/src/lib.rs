//! The watchdog Lambda: every few minutes, checks that Okta still streams (Okta deactivates a log
//! stream when its target stops acknowledging and sends nothing until it is activated), activates
//! it again if not, reports the outage window with a log line and a metric an alarm catches, and
//! relays the outage's events from the System Log ([`backfill`]).

pub mod backfill;

use std::time::Duration;

use aws_adapters::{
    BackfillStateError, EventBridgeBuses, OktaAccess, OktaAccessError, OktaSession, ParameterError,
    SecretReader, SqsInbox, SsmBackfillState,
};
use chrono::{DateTime, Utc};
use event_pattern::Pattern;
use lambda_support::env::{ConfigError, Environment};
use okta::{AwsSettings, OrgUrl, PartnerEventSource};
use okta_api::{MAX_PAGE_SIZE, OktaClient, OktaError};
use provisioning::{
    ExpectedRule, Owner, ProvisionError, Repairs, Spec, SpecError, SpecInput, StreamHealth,
    TargetState, Watch, watch,
};
use relay_core::InboxError;
use relay_core::backfill::{
    BackfillError, BackfillReport, Gap, PathOutage, PendingBackfill, Streamed,
};
use serde::Serialize;
use serde_json::json;
use tokio::time::Instant;

/// Metrics in namespace `OktaRelay`, dimension `FunctionName`, that the template's alarms watch.
pub const REACTIVATED_METRIC: &str = "StreamReactivated";
pub const MISSING_METRIC: &str = "StreamMissing";
pub const DEACTIVATED_BY_PERSON_METRIC: &str = "StreamDeactivatedByPerson";
pub const PATH_BROKEN_METRIC: &str = "DeliveryPathBroken";
pub const BACKFILLED_METRIC: &str = "BackfilledEvents";
pub const BACKFILL_PENDING_METRIC: &str = "BackfillWindowsPending";

/// What to watch, from the environment template.yaml sets.
#[derive(Debug, Clone)]
pub struct WatchdogConfig {
    pub org: OrgUrl,
    pub settings: AwsSettings,
    pub partner_source: PartnerEventSource,
    /// `OKTA_OAUTH_*` or `OKTA_API_TOKEN_PARAMETER`: how Okta's API is reached
    /// ([`aws_adapters::OktaAccess`]).
    pub okta_access: OktaAccess,
    /// Calls Okta here instead of the org URL: a proxy, or a local fake in tests.
    pub okta_api_base_url: Option<url::Url>,
    /// `EVENT_PATTERN` (optional): the rule's pattern, which backfilled events pass as streamed
    /// ones do before the relay's routes see them.
    pub rule: Option<Pattern>,
    /// `INBOX_QUEUE_URL`: the relay's inbox, where backfilled events go to be relayed with the
    /// streamed ones.
    pub inbox_queue_url: String,
    /// `RULE_NAME` (optional) and then `RULE_TARGET_ARN`: the stack's rule on the partner bus and
    /// the relay it must target, checked every run while Okta streams.
    pub rule_check: Option<RuleCheck>,
    /// `STACK_ID` (with `RULE_NAME`, `EVENT_PATTERN`, `LOG_STREAM_NAME`, optional
    /// `DEAD_LETTER_QUEUE_ARN` and `LOG_STREAM_ID`): the path as the stack's provisioner made
    /// it, which the watchdog re-creates where the stack owns it. Unset: detect only.
    pub repair: Option<RepairConfig>,
    /// `BACKFILL_STATE_PARAMETER`: the SSM parameter holding the windows still to backfill.
    pub backfill_state_parameter: String,
    /// `BACKFILL_OVERLAP_SECONDS` (default 120): how far before the deactivation event a backfill
    /// starts. Okta makes two delivery attempts without waiting, then deactivates, so only the
    /// seconds before the deactivation were failing; two minutes covers them and clock skew.
    pub backfill_overlap: Duration,
    /// `BACKFILL_SETTLE_SECONDS` (default 300, one schedule period): how long after its end a
    /// window waits before it is read, so events the System Log shows late are in it.
    pub backfill_settle: Duration,
    /// `BACKFILL_PAGE_SIZE` (default 1000, Okta's largest): System Log events per request.
    pub backfill_page_size: u32,
}

impl WatchdogConfig {
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Self, WatchdogConfigError> {
        let env = Environment::new(&var);
        let org = env
            .parsed("OKTA_ORG_URL", OrgUrl::parse)?
            .ok_or(ConfigError::Missing("OKTA_ORG_URL"))?;
        let repair = RepairConfig::from_env(&env, &env.required("OKTA_ORG_URL")?)?;
        let settings = AwsSettings {
            account_id: env.required("ACCOUNT_ID")?,
            event_source_name: env.required("EVENT_SOURCE_NAME")?,
            region: env.required("AWS_REGION")?,
        };
        settings.validate()?;
        let partner_source = PartnerEventSource::for_stream(&org, &settings.event_source_name)
            .ok_or_else(|| ConfigError::Invalid {
                name: "EVENT_SOURCE_NAME",
                value: settings.event_source_name.clone(),
                expected: "expected a valid event source name".into(),
            })?;
        Ok(Self {
            org,
            settings,
            partner_source,
            okta_access: OktaAccess::from_env(&var)?,
            okta_api_base_url: env.parsed("OKTA_API_BASE_URL", url::Url::parse)?,
            rule: env.parsed("EVENT_PATTERN", Pattern::parse)?,
            inbox_queue_url: env.required("INBOX_QUEUE_URL")?,
            rule_check: env
                .optional("RULE_NAME")
                .map(|name| {
                    Ok::<_, ConfigError>(RuleCheck {
                        name,
                        target_arn: env.required("RULE_TARGET_ARN")?,
                    })
                })
                .transpose()?,
            repair,
            backfill_state_parameter: env.required("BACKFILL_STATE_PARAMETER")?,
            backfill_overlap: Duration::from_secs(env.number(
                "BACKFILL_OVERLAP_SECONDS",
                120,
                0..=86_400,
            )?),
            backfill_settle: Duration::from_secs(env.number(
                "BACKFILL_SETTLE_SECONDS",
                300,
                0..=3_600,
            )?),
            backfill_page_size: env.number(
                "BACKFILL_PAGE_SIZE",
                u64::from(MAX_PAGE_SIZE),
                1..=u64::from(MAX_PAGE_SIZE),
            )? as u32,
        })
    }
}

/// What the watchdog repairs, and for whom.
#[derive(Debug, Clone)]
pub struct RepairConfig {
    pub spec: Spec,
    pub owner: Owner,
}

impl RepairConfig {
    fn from_env(
        env: &Environment<impl Fn(&str) -> Option<String>>,
        org_url: &str,
    ) -> Result<Option<Self>, WatchdogConfigError> {
        let Some(stack_id) = env.optional("STACK_ID") else {
            return Ok(None);
        };
        let input = SpecInput {
            org_url: org_url.into(),
            log_stream_name: env.required("LOG_STREAM_NAME")?,
            event_source_name: env.required("EVENT_SOURCE_NAME")?,
            account_id: env.required("ACCOUNT_ID")?,
            region: env.required("AWS_REGION")?,
            rule_name: env.required("RULE_NAME")?,
            event_pattern: env.required("EVENT_PATTERN")?.into(),
            target_arn: env.required("RULE_TARGET_ARN")?,
            dead_letter_queue_arn: env.optional("DEAD_LETTER_QUEUE_ARN"),
            ..SpecInput::default()
        };
        Ok(Some(Self {
            spec: input.validate()?,
            owner: Owner {
                recorded_stream_id: env.optional("LOG_STREAM_ID"),
                ..Owner::new(stack_id)
            },
        }))
    }
}

/// The rule that carries Okta's events from the partner bus to the relay.
#[derive(Debug, Clone)]
pub struct RuleCheck {
    pub name: String,
    pub target_arn: String,
}

#[derive(Debug, thiserror::Error)]
pub enum WatchdogConfigError {
    #[error(transparent)]
    Variable(#[from] ConfigError),
    #[error("ACCOUNT_ID, EVENT_SOURCE_NAME or AWS_REGION: {0}")]
    Settings(#[from] okta::SettingsError),
    #[error(
        "the path to repair (STACK_ID with RULE_NAME, EVENT_PATTERN, RULE_TARGET_ARN, \
         LOG_STREAM_NAME, DEAD_LETTER_QUEUE_ARN): {0}"
    )]
    Repair(#[from] SpecError),
}

/// Why a run failed. The stream is checked first, so a failure after the check never leaves it
/// deactivated; pending windows stay saved for the next run.
#[derive(Debug, thiserror::Error)]
pub enum WatchdogError {
    #[error(transparent)]
    Token(#[from] ParameterError),
    #[error(transparent)]
    OktaAccess(#[from] OktaAccessError),
    #[error("the Okta API client: {0}")]
    Okta(#[from] OktaError),
    #[error("checking the log stream: {0}")]
    Watch(#[from] ProvisionError),
    #[error(transparent)]
    BackfillState(#[from] BackfillStateError),
    #[error("backfilling: {0}")]
    Backfill(#[from] BackfillError<InboxError>),
}

/// A client the watchdog needs could not be built; the invocation fails and the next builds again.
#[derive(Debug, thiserror::Error)]
pub enum ClientSetupError {
    #[error("the Okta API client: {0}")]
    Okta(#[from] OktaError),
}

/// The clients a run uses, built once per container.
pub struct WatchdogClients {
    /// For Okta's API; an API token is read on every run, so a rotated one is picked up; an
    /// OAuth client and its token are kept ([`OktaSession`]).
    pub okta_http: reqwest::Client,
    pub okta: OktaSession,
    pub ssm: aws_sdk_ssm::Client,
    pub secrets: SecretReader,
    pub kms: aws_sdk_kms::Client,
    pub buses: EventBridgeBuses,
    /// The relay's inbox, for backfilled events.
    pub inbox: SqsInbox,
    pub backfill_state: SsmBackfillState,
}

impl WatchdogClients {
    pub fn new(
        aws: &aws_config::SdkConfig,
        config: &WatchdogConfig,
    ) -> Result<Self, ClientSetupError> {
        let ssm = aws_sdk_ssm::Client::new(aws);
        Ok(Self {
            okta_http: okta_api::http_client()?,
            okta: OktaSession::new(config.okta_access.clone()),
            kms: aws_sdk_kms::Client::new(aws),
            secrets: SecretReader::new(aws),
            buses: EventBridgeBuses::new(aws_sdk_eventbridge::Client::new(aws)),
            inbox: SqsInbox::new(
                aws_sdk_sqs::Client::new(aws),
                config.inbox_queue_url.clone(),
            ),
            backfill_state: SsmBackfillState::new(
                ssm.clone(),
                config.backfill_state_parameter.clone(),
            ),
            ssm,
        })
    }
}

/// One run's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Run {
    pub watch: Watch,
    /// `None` when no window was read this run.
    pub backfill: Option<BackfillReport>,
    /// The pending window is read once it has settled, at this time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backfill_waits_until: Option<String>,
    /// Windows still to read after this run.
    pub windows_pending: u64,
}

/// One run: check the stream (activating it if Okta deactivated it), record the outage window,
/// then relay pending windows until they are done or `deadline` is near.
pub async fn run(
    config: &WatchdogConfig,
    aws: &WatchdogClients,
    deadline: Instant,
) -> Result<Run, WatchdogError> {
    let okta_base = config
        .okta_api_base_url
        .as_ref()
        .unwrap_or(config.org.as_url());
    let credentials = aws
        .okta
        .credentials(&aws.secrets, &aws.kms, &aws.okta_http, okta_base)
        .await?;
    let okta = OktaClient::with_http(
        aws.okta_http.clone(),
        &config.org,
        config.okta_api_base_url.as_ref(),
        credentials,
    )?;
    // The stream first: a backfill problem must not keep it deactivated.
    let relay_arn = config
        .rule_check
        .as_ref()
        .map(|rule| rule.target_arn.as_str());
    let is_relay = |target: &TargetState| Some(target.arn.as_str()) == relay_arn;
    let rule = config.rule_check.as_ref().map(|rule| ExpectedRule {
        name: &rule.name,
        target: &rule.target_arn,
        is_target: &is_relay,
    });
    let repairs = config.repair.as_ref().map(|repair| Repairs {
        spec: &repair.spec,
        owner: &repair.owner,
    });
    let watch = watch(
        &config.settings,
        &config.partner_source.to_string(),
        rule.as_ref(),
        repairs,
        &okta,
        &aws.buses,
    )
    .await?;
    let now = Utc::now();
    log_outcome(&watch, now);
    let mut pending = record_outages(config, aws, &watch, now).await?;
    if pending.gaps.is_empty() {
        return Ok(Run {
            watch,
            backfill: None,
            backfill_waits_until: None,
            windows_pending: 0,
        });
    }
    // Okta: a bounded System Log query may miss events that arrive late. A window is read once
    // it has settled: `settle` after its end.
    let settle = saturating_time::delta(config.backfill_settle);
    if let Some(ready_at) = pending
        .gaps
        .first()
        .map(|gap| saturating_time::shift(gap.until, settle))
        .filter(|ready_at| *ready_at > now)
    {
        tracing::info!(outcome = "backfill_settling", ready_at = %ready_at.to_rfc3339(),
            "the outage window is read once late System Log events have arrived");
        return Ok(Run {
            watch,
            backfill: None,
            backfill_waits_until: Some(ready_at.to_rfc3339()),
            windows_pending: pending.gaps.len() as u64,
        });
    }
    let source = config.partner_source.to_string();
    let streamed = Streamed {
        rule: config.rule.as_ref(),
        source: &source,
        account: &config.settings.account_id,
        region: &config.settings.region,
    };
    let report = backfill::backfill(
        &okta,
        &mut pending,
        &aws.backfill_state,
        &streamed,
        &aws.inbox,
        config.backfill_page_size,
        deadline,
    )
    .await?;
    log_backfill(&report, &pending);
    Ok(Run {
        watch,
        windows_pending: report.windows_left,
        backfill: Some(report),
        backfill_waits_until: None,
    })
}

/// Adds the windows this check closed to the pending ones and saves them: a stream outage Okta
/// ended by deactivating (re-activated now), and a path outage the AWS side had (whole again now,
/// repaired or not). Answers every window still to read.
async fn record_outages(
    config: &WatchdogConfig,
    aws: &WatchdogClients,
    watch: &Watch,
    now: DateTime<Utc>,
) -> Result<PendingBackfill, WatchdogError> {
    let overlap = saturating_time::delta(config.backfill_overlap);
    let mut pending = aws.backfill_state.load().await?;
    let before = pending.clone();
    let mut added = Vec::new();
    if watch.health == StreamHealth::Reactivated {
        match outage_start(watch) {
            Some(since) => {
                let gap = outage_window(since, now, config.backfill_overlap);
                pending.add(gap.clone());
                added.push(gap);
            }
            None => tracing::error!(
                outcome = "outage_start_unknown",
                "Okta did not say when it deactivated the stream; backfill by hand \
                 (okta-relay backfill --since --until)"
            ),
        }
    }
    // The path is checked only while Okta streams.
    if matches!(
        watch.health,
        StreamHealth::Active | StreamHealth::Reactivated
    ) {
        let whole = watch.path_problems.is_empty();
        match pending.path_checked(watch.path_was_broken(), whole, now, overlap) {
            Some(PathOutage::Window(gap)) => {
                tracing::error!(outcome = "path_outage_window", since = %gap.since.to_rfc3339(),
                    until = %gap.until.to_rfc3339(),
                    "EventBridge dropped what Okta streamed while the path was broken: the window \
                     from the last check that found it whole is backfilled once settled");
                added.push(gap);
            }
            Some(PathOutage::StartUnknown { until }) => tracing::error!(
                outcome = "path_outage_start_unknown", until = %until.to_rfc3339(),
                "the path was broken before any check found it whole: backfill from the \
                 deployment by hand (okta-relay backfill --since SINCE --until UNTIL)"
            ),
            None => {}
        }
    }
    if pending != before
        && let Err(error) = aws.backfill_state.save(&pending).await
    {
        for gap in &added {
            tracing::error!(outcome = "backfill_not_saved", since = %gap.since.to_rfc3339(),
                until = %gap.until.to_rfc3339(), error = %error,
                "the outage window could not be saved: backfill it by hand \
                 (okta-relay backfill --since SINCE --until UNTIL)");
        }
        return Err(error.into());
    }
    Ok(pending)
}

/// The window to backfill for an outage that started at `since`: from `overlap` before it (the
/// events of the failed delivery attempts just before Okta gave up) to `now`, never further back
/// than the System Log keeps (90 days, less an hour of margin); what lies beyond is reported.
fn outage_window(since: DateTime<Utc>, now: DateTime<Utc>, overlap: Duration) -> Gap {
    let gap = Gap::outage(since, now, saturating_time::delta(overlap));
    let oldest = saturating_time::shift(now, -(okta_api::RETENTION - chrono::TimeDelta::hours(1)));
    if gap.since >= oldest {
        return gap;
    }
    tracing::error!(outcome = "backfill_beyond_retention", lost_since = %gap.since.to_rfc3339(),
        lost_until = %oldest.to_rfc3339(),
        "the outage began before the System Log's 90-day retention: its first events cannot be \
         read back from Okta");
    Gap {
        since: oldest,
        ..gap
    }
}

fn outage_start(watch: &Watch) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(watch.inactive_since.as_deref()?)
        .ok()
        .map(|time| time.with_timezone(&Utc))
}

fn log_backfill(report: &BackfillReport, pending: &relay_core::backfill::PendingBackfill) {
    let next_since = pending
        .gaps
        .first()
        .map(|gap| gap.since.to_rfc3339())
        .unwrap_or_default();
    if report.windows_left == 0 {
        tracing::info!(
            outcome = "backfill_complete",
            pages = report.pages,
            events = report.events,
            queued = report.queued,
            filtered_out = report.filtered_out,
            "the outage's events are in the relay's inbox"
        );
    } else {
        tracing::warn!(outcome = "backfill_incomplete", pages = report.pages, events = report.events,
            queued = report.queued, filtered_out = report.filtered_out, windows_left = report.windows_left,
            next_since = %next_since, "out of time for this run; the next run goes on from here");
    }
}

/// The check's outcome as one structured log line.
fn log_outcome(watch: &Watch, now: DateTime<Utc>) {
    let now = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    match watch.health {
        StreamHealth::Active => tracing::info!(
            outcome = "stream_active",
            log_stream_id = watch.log_stream_id.as_deref().unwrap_or_default(),
            partner_event_source_state = watch
                .partner_event_source_state
                .as_deref()
                .unwrap_or("missing"),
            "Okta is streaming"
        ),
        StreamHealth::Reactivated => tracing::error!(
            outcome = "stream_reactivated",
            log_stream_id = watch.log_stream_id.as_deref().unwrap_or_default(),
            outage_since = watch.inactive_since.as_deref().unwrap_or("unknown"),
            outage_until = %now,
            "Okta had deactivated the log stream; activated it again. The outage's events are \
             backfilled from the System Log"
        ),
        StreamHealth::DeactivatedByPerson => tracing::error!(
            outcome = "stream_deactivated_by_person",
            log_stream_id = watch.log_stream_id.as_deref().unwrap_or_default(),
            deactivated_by = %watch.deactivated_by.as_ref().map(ToString::to_string).unwrap_or_default(),
            deactivated_at = watch.inactive_since.as_deref().unwrap_or("unknown"),
            "someone deactivated the Okta log stream; the watchdog leaves it off. Events are not \
             streamed until it is activated again: update the stack, or run okta-relay provision \
             apply (then backfill the window with okta-relay backfill)"
        ),
        StreamHealth::Missing => tracing::error!(
            outcome = "stream_missing",
            "no Okta log stream streams to this account and event source; re-run the deployment"
        ),
    }
    if !watch.path_repaired.is_empty() {
        tracing::error!(outcome = "delivery_path_repaired", changes = %watch.path_repaired.join("; "),
            "the path from Okta's partner source to the relay was broken (EventBridge dropped \
             Okta's events meanwhile); repaired as the stack's provisioner made it");
    }
    if !watch.path_problems.is_empty() {
        tracing::error!(outcome = "delivery_path_broken", problems = %watch.path_problems.join("; "),
            "Okta streams, but its events do not reach the relay");
    }
}

/// One Embedded Metric Format line with [`REACTIVATED_METRIC`], [`DEACTIVATED_BY_PERSON_METRIC`]
/// [`MISSING_METRIC`] and [`PATH_BROKEN_METRIC`] (1 or 0; the path counts as broken when this
/// run found it so, even if it repaired it), [`BACKFILLED_METRIC`] (events read back) and
/// [`BACKFILL_PENDING_METRIC`] (windows still to read).
pub fn metric_line(function_name: &str, run: &Run, timestamp_ms: u128) -> String {
    let watch = &run.watch;
    let backfill = run.backfill.clone().unwrap_or_default();
    let count = |value: u64| ("Count", json!(value));
    let metrics = [
        (
            REACTIVATED_METRIC,
            count(u64::from(watch.health == StreamHealth::Reactivated)),
        ),
        (
            DEACTIVATED_BY_PERSON_METRIC,
            count(u64::from(watch.health == StreamHealth::DeactivatedByPerson)),
        ),
        (
            MISSING_METRIC,
            count(u64::from(watch.health == StreamHealth::Missing)),
        ),
        (
            PATH_BROKEN_METRIC,
            count(u64::from(watch.path_was_broken())),
        ),
        (BACKFILLED_METRIC, count(backfill.events)),
        (BACKFILL_PENDING_METRIC, count(run.windows_pending)),
    ]
    .map(|(name, (unit, value))| (name, unit, value));
    relay_core::metrics::emf(function_name, timestamp_ms, &metrics).to_string()
}

/// The watchdog's timeout in template.yaml.
pub const TIMEOUT: Duration = Duration::from_secs(240);
