//! Reading what exists now, on both sides, without changing anything.

use okta::{AwsSettings, Deactivation, LogStream, LogStreamStatus};
use serde::Serialize;

use crate::error::ProvisionError;
use crate::ports::{EventBuses, LogStreams, RuleState, TargetState};
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
    pub source_state: Option<String>,
    pub bus_arn: Option<String>,
    pub rule: Option<RuleState>,
    pub targets: Vec<TargetState>,
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
    let source = spec.partner_source.to_string();
    let source_state = aws
        .event_source_state(&source)
        .await
        .map_err(ProvisionError::step("describing the partner event source"))?;
    let bus_arn = aws
        .event_bus_arn(&source)
        .await
        .map_err(ProvisionError::step("describing the event bus"))?;
    let (rule, targets) = if bus_arn.is_some() {
        let rule = aws
            .rule(&source, &spec.rule.name)
            .await
            .map_err(ProvisionError::step("describing the rule"))?;
        let targets = match rule {
            Some(_) => aws
                .targets(&source, &spec.rule.name)
                .await
                .map_err(ProvisionError::step("listing the rule's targets"))?,
            None => Vec::new(),
        };
        (rule, targets)
    } else {
        (None, Vec::new())
    };
    Ok(Observed {
        stream,
        name_taken_by,
        org_streams: streams,
        source_state,
        bus_arn,
        rule,
        targets,
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
    pub rule_arn: Option<String>,
    pub rule_enabled: Option<bool>,
    pub targets: Vec<String>,
    /// Who deactivated the stream and when, when it is off and the System Log says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deactivated: Option<Deactivation>,
    /// Each thing that stops events from flowing, in words an operator can act on.
    pub problems: Vec<String>,
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
        match observed.source_state.as_deref() {
            None => problems.push(format!(
                "partner event source {source} does not exist in EventBridge"
            )),
            Some("DELETED") => {
                problems.push(format!("partner event source {source} was deleted by Okta"))
            }
            Some(_) => {}
        }
        if observed.bus_arn.is_none() {
            problems.push(format!("no event bus is associated with {source}"));
        }
        match &observed.rule {
            None => problems.push(format!("rule `{}` does not exist", spec.rule.name)),
            Some(rule) if !rule.enabled => {
                problems.push(format!("rule `{}` is disabled", spec.rule.name))
            }
            Some(_) => {}
        }
        if observed.rule.is_some()
            && !observed
                .targets
                .iter()
                .any(|t| t.matches(&spec.rule.target))
        {
            problems.push(format!(
                "rule `{}` does not target {} as configured",
                spec.rule.name, spec.rule.target.arn
            ));
        }
        Self {
            log_stream_id: observed.stream.as_ref().map(|s| s.id.clone()),
            log_stream_name: observed.stream.as_ref().map(|s| s.name.clone()),
            log_stream_status: observed.stream.as_ref().map(|s| s.status),
            partner_event_source: source,
            partner_event_source_state: observed.source_state.clone(),
            event_bus_arn: observed.bus_arn.clone(),
            rule_arn: observed.rule.as_ref().map(|r| r.arn.clone()),
            rule_enabled: observed.rule.as_ref().map(|r| r.enabled),
            targets: observed
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
