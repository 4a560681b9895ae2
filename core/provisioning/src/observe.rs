//! Reading what exists now, on both sides, without changing anything.

use okta::{AwsSettings, Deactivation, LogStream, LogStreamStatus};
use serde::Serialize;

use crate::error::ProvisionError;
use crate::ports::{EventBuses, LogStreams, RuleState, StreamHistory, TargetState};
use crate::spec::Spec;

/// Everything the provisioner manages, as found.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// Our log stream: the `aws_eventbridge` stream with our settings. Settings are write-once,
    /// so they, not the name, identify it.
    pub stream: Option<LogStream>,
    /// A different stream already holding our name (Okta requires unique names, across types).
    pub name_taken_by: Option<LogStream>,
    /// Every stream in the org, of every type: Okta allows two per org.
    pub org_streams: Vec<LogStream>,
    pub path: DeliveryPath,
}

/// The AWS side of the path Okta's events take to the relay, as found: the partner event source,
/// the bus associated with it, the rule on that bus and the rule's targets.
#[derive(Debug, Clone, Default)]
pub struct DeliveryPath {
    /// `PENDING`, `ACTIVE` or `DELETED`; `None` when the source does not exist.
    pub source_state: Option<String>,
    pub bus_arn: Option<String>,
    /// The bus's [`crate::OWNER_TAG`].
    pub bus_owner: Option<String>,
    pub rule: Option<RuleState>,
    pub targets: Vec<TargetState>,
}

/// The rule the path must end in, and whether a target is the one it must have.
pub struct ExpectedRule<'a> {
    pub name: &'a str,
    /// The target, as the problem names it.
    pub target: &'a str,
    pub is_target: &'a dyn Fn(&TargetState) -> bool,
}

/// Reads the path to `rule` (its rule and targets only when the bus exists).
pub async fn observe_path(
    source: &str,
    rule: Option<&str>,
    aws: &impl EventBuses,
) -> Result<DeliveryPath, ProvisionError> {
    let source_state = aws
        .event_source_state(source)
        .await
        .map_err(ProvisionError::step("describing the partner event source"))?;
    let bus_arn = aws
        .event_bus_arn(source)
        .await
        .map_err(ProvisionError::step("describing the event bus"))?;
    let bus_owner = match &bus_arn {
        Some(arn) => aws
            .bus_owner(arn)
            .await
            .map_err(ProvisionError::step("reading the event bus's owner tag"))?,
        None => None,
    };
    let mut path = DeliveryPath {
        source_state,
        bus_arn,
        bus_owner,
        ..DeliveryPath::default()
    };
    if let (Some(_), Some(name)) = (&path.bus_arn, rule) {
        path.rule = aws
            .rule(source, name)
            .await
            .map_err(ProvisionError::step("describing the rule"))?;
        if path.rule.is_some() {
            path.targets = aws
                .targets(source, name)
                .await
                .map_err(ProvisionError::step("listing the rule's targets"))?;
        }
    }
    Ok(path)
}

impl DeliveryPath {
    /// Each thing on the AWS side that stops Okta's events from reaching `rule`'s target, with
    /// its fix. EventBridge **drops** every event a partner sends to a source with no associated
    /// bus (`PENDING`) or a `DELETED` one (AWS, "Receiving events from a SaaS partner"), while
    /// Okta keeps the stream `ACTIVE`. `rule: None` checks the source and the bus only.
    pub fn problems(&self, source: &str, rule: Option<&ExpectedRule<'_>>) -> Vec<String> {
        let mut problems = Vec::new();
        match self.source_state.as_deref() {
            Some("ACTIVE") => {}
            Some("PENDING") => problems.push(format!(
                "partner event source {source} is PENDING: no event bus is associated with it, \
                 and EventBridge drops every event Okta sends; update the stack or run \
                 `okta-relay provision apply` (either creates the bus)"
            )),
            Some(state) => problems.push(format!(
                "partner event source {source} is {state}: EventBridge drops Okta's events; \
                 update the stack, or re-create the stream (`okta-relay provision apply`)"
            )),
            None => problems.push(format!(
                "partner event source {source} does not exist in this account and region, so \
                 Okta's events go nowhere; check the stream's AccountId and Region, then update \
                 the stack"
            )),
        }
        if self.bus_arn.is_none() {
            problems.push(format!(
                "the event bus {source} is missing, and with it the rule that sends events to \
                 the relay; update the stack to create them again"
            ));
            return problems;
        }
        let Some(expected) = rule else {
            return problems;
        };
        let name = expected.name;
        match &self.rule {
            None => problems.push(format!(
                "rule `{name}` is missing from the partner bus: nothing reaches the relay; \
                 update the stack to create it again"
            )),
            Some(rule) => {
                if !rule.enabled {
                    problems.push(format!(
                        "rule `{name}` is disabled: events reach the bus and go no further; \
                         enable it (aws events enable-rule) or update the stack"
                    ));
                }
                if !self.targets.iter().any(expected.is_target) {
                    problems.push(format!(
                        "rule `{name}` no longer targets the relay ({}) as configured; update \
                         the stack to set the target again",
                        expected.target
                    ));
                }
            }
        }
        problems
    }
}

pub async fn observe(
    spec: &Spec,
    okta: &impl LogStreams,
    aws: &impl EventBuses,
) -> Result<Observed, ProvisionError> {
    let streams = okta
        .list()
        .await
        .map_err(ProvisionError::step("listing Okta log streams"))?;
    let stream = find_by_settings(&streams, &spec.settings);
    let name_taken_by = streams
        .iter()
        .find(|other| {
            other.name == spec.log_stream_name
                && stream.as_ref().is_none_or(|ours| ours.id != other.id)
        })
        .cloned();
    let path = observe_path(&spec.partner_source.to_string(), Some(&spec.rule.name), aws).await?;
    Ok(Observed {
        stream,
        name_taken_by,
        org_streams: streams,
        path,
    })
}

pub fn find_by_settings(streams: &[LogStream], settings: &AwsSettings) -> Option<LogStream> {
    streams
        .iter()
        .find(|stream| stream.aws_settings().as_ref() == Some(settings))
        .cloned()
}

/// What `okta-relay provision status` shows.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    pub log_stream_id: Option<String>,
    pub log_stream_name: Option<String>,
    pub log_stream_status: Option<LogStreamStatus>,
    pub partner_event_source: String,
    pub partner_event_source_state: Option<String>,
    pub event_bus_arn: Option<String>,
    /// The bus's owner ([`crate::OWNER_TAG`]): a stack id, or the CLI's `--owner`.
    pub owner: Option<String>,
    pub rule_arn: Option<String>,
    pub rule_enabled: Option<bool>,
    pub targets: Vec<String>,
    /// Who deactivated the stream and when, when it is off and the System Log says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deactivated: Option<Deactivation>,
    /// Each thing that stops events from flowing, in words an operator can act on.
    pub problems: Vec<String>,
}

/// What `okta-relay provision status` reports: what exists, and, when the stream is off, who
/// turned it off (the System Log's lifecycle event).
pub async fn status(
    spec: &Spec,
    okta: &(impl LogStreams + StreamHistory),
    aws: &impl EventBuses,
) -> Result<Status, ProvisionError> {
    let observed = observe(spec, okta, aws).await?;
    let deactivated = match observed
        .stream
        .as_ref()
        .filter(|stream| stream.status == LogStreamStatus::Inactive)
    {
        Some(stream) => okta
            .last_deactivation(&stream.id)
            .await
            .map_err(ProvisionError::step(
                "reading who deactivated the log stream from the System Log",
            ))?,
        None => None,
    };
    Ok(Status::new(spec, &observed, deactivated))
}

impl Status {
    /// `deactivated`: the stream's last deactivation event, read when the stream is off.
    pub fn new(spec: &Spec, observed: &Observed, deactivated: Option<Deactivation>) -> Self {
        let source = spec.partner_source.to_string();
        let mut problems = Vec::new();
        match &observed.stream {
            None => problems.push(format!(
                "no Okta log stream streams to {source}: run `okta-relay provision apply`"
            )),
            Some(stream) if stream.status == LogStreamStatus::Inactive => {
                problems.push(match &deactivated {
                    Some(event) if !event.by.is_okta() => format!(
                        "log stream `{}` ({}) was deactivated by {} at {}: the watchdog leaves a \
                         person's decision alone. To turn it back on, run `okta-relay provision \
                         apply`, then backfill from that time (`okta-relay backfill`)",
                        stream.name,
                        stream.id,
                        event.by,
                        event.published.to_rfc3339()
                    ),
                    _ => format!(
                        "Okta has deactivated log stream `{}` ({}){}: Okta sends nothing and will \
                         not resend the gap; activate it (`okta-relay provision apply`, or wait \
                         for the watchdog) and backfill the outage",
                        stream.name,
                        stream.id,
                        deactivated
                            .as_ref()
                            .map(|event| format!(" at {}", event.published.to_rfc3339()))
                            .unwrap_or_default()
                    ),
                })
            }
            Some(_) => {}
        }
        let is_target = |target: &TargetState| target.matches(&spec.rule.target);
        problems.extend(observed.path.problems(
            &source,
            Some(&ExpectedRule {
                name: &spec.rule.name,
                target: &spec.rule.target.arn,
                is_target: &is_target,
            }),
        ));
        Self {
            log_stream_id: observed.stream.as_ref().map(|s| s.id.clone()),
            log_stream_name: observed.stream.as_ref().map(|s| s.name.clone()),
            log_stream_status: observed.stream.as_ref().map(|s| s.status),
            partner_event_source: source,
            partner_event_source_state: observed.path.source_state.clone(),
            event_bus_arn: observed.path.bus_arn.clone(),
            owner: observed.path.bus_owner.clone(),
            rule_arn: observed.path.rule.as_ref().map(|r| r.arn.clone()),
            rule_enabled: observed.path.rule.as_ref().map(|r| r.enabled),
            targets: observed
                .path
                .targets
                .iter()
                .map(|t| format!("{} → {}", t.id, t.arn))
                .collect(),
            deactivated,
            problems,
        }
    }

    pub fn is_healthy(&self) -> bool {
        self.problems.is_empty()
    }
}
