//! Executing a plan against the ports.

use std::time::Duration;

use chrono::{DateTime, Utc};
use okta::{AwsSettings, LogStream, LogStreamRequest, LogStreamStatus};
use retry::{AttemptError, RetryPolicy};
use serde::Serialize;

use crate::error::ProvisionError;
use crate::observe::DeliveryPath;
use crate::observe::{Observed, observe};
use crate::ownership::Owner;
use crate::plan::{Change, plan_apply, plan_claim, plan_destroy, plan_path};
use crate::ports::{EventBuses, LogStreams};
use crate::spec::Spec;

/// What exists after `apply`: the custom resource's `Data` and the CLI's output.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Provisioned {
    pub log_stream_id: String,
    pub log_stream_status: LogStreamStatus,
    pub partner_event_source: String,
    pub event_bus_arn: String,
    pub rule_arn: String,
    #[serde(skip)]
    pub changes: Vec<Change>,
    /// When this apply created the stream: from just before the stream existed to when its
    /// rule and target did. Okta streamed from creation, but EventBridge drops what reaches a
    /// partner source with no bus, and a bus without the rule routes nothing: the events of
    /// this window are in the System Log only, for a backfill.
    #[serde(skip)]
    pub unrouted: Option<Unrouted>,
}

/// A window whose events Okta sent but nothing routed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Unrouted {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

/// Makes the world match `spec`; see [`plan_apply`] for `replacing`.
pub async fn apply(
    spec: &Spec,
    owner: &Owner,
    okta: &impl LogStreams,
    aws: &impl EventBuses,
    replacing: Option<&AwsSettings>,
) -> Result<Provisioned, ProvisionError> {
    let observed = observe(spec, okta, aws).await?;
    let changes = plan_apply(spec, owner, &observed, replacing)?;
    let mut run = Run::new(spec, owner, &observed);
    let mut created_at = None;
    for change in &changes {
        if matches!(change, Change::CreateLogStream { .. }) {
            created_at = Some(Utc::now());
        }
        run.execute(change, okta, aws).await?;
    }
    let unrouted = created_at.map(|since| Unrouted {
        since,
        until: Utc::now(),
    });
    let missing = |what: &str| ProvisionError::Step {
        step: format!("reading the {what} after apply"),
        source: "it was neither found nor created".into(),
    };
    let stream = run.stream.ok_or_else(|| missing("log stream"))?;
    Ok(Provisioned {
        log_stream_id: stream.id,
        log_stream_status: stream.status,
        partner_event_source: spec.partner_source.to_string(),
        event_bus_arn: run.bus_arn.ok_or_else(|| missing("event bus"))?,
        rule_arn: run.rule_arn.ok_or_else(|| missing("rule"))?,
        changes,
        unrouted,
    })
}

/// Removes everything `spec` describes that `owner` owns; what is already gone is skipped, what
/// belongs to another owner left. Answers what it did.
pub async fn destroy(
    spec: &Spec,
    owner: &Owner,
    okta: &impl LogStreams,
    aws: &impl EventBuses,
) -> Result<Vec<Change>, ProvisionError> {
    let observed = observe(spec, okta, aws).await?;
    let changes = plan_destroy(spec, owner, &observed);
    let mut run = Run::new(spec, owner, &observed);
    for change in &changes {
        run.execute(change, okta, aws).await?;
    }
    Ok(changes)
}

/// What [`repair_path`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repair {
    /// The changes that made the AWS side whole again (none when it was).
    Repaired(Vec<Change>),
    /// The partner source is missing or `DELETED`: only the Okta side (re-creating the stream)
    /// brings it back.
    SourceGone,
    /// The bus belongs to another owner (or to none okta-relay knows): left alone.
    NotOurs { owner: Option<String> },
}

/// Makes the AWS side of `stream`'s path (`path`, as just observed) match `spec` again, where
/// `owner` owns it: re-creates the bus (associating it with the partner source, which turns
/// `ACTIVE`), the rule and its target ([`plan_path`]: no Okta change). Leaves what is not
/// `owner`'s alone.
pub async fn repair_path(
    spec: &Spec,
    owner: &Owner,
    stream: &LogStream,
    path: &DeliveryPath,
    okta: &impl LogStreams,
    aws: &impl EventBuses,
) -> Result<Repair, ProvisionError> {
    if !matches!(path.source_state.as_deref(), Some("ACTIVE" | "PENDING")) {
        return Ok(Repair::SourceGone);
    }
    let mut changes: Vec<Change> = match plan_claim(spec, owner, false, Some(stream), path) {
        Ok(claim) => claim.into_iter().collect(),
        Err(theirs) => return Ok(Repair::NotOurs { owner: theirs }),
    };
    changes.extend(plan_path(spec, path));
    let observed = Observed {
        stream: Some(stream.clone()),
        path: path.clone(),
        ..Observed::default()
    };
    let mut run = Run::new(spec, owner, &observed);
    for change in &changes {
        run.execute(change, okta, aws).await?;
    }
    Ok(Repair::Repaired(changes))
}

/// The state a plan's execution carries from step to step.
struct Run<'a> {
    spec: &'a Spec,
    owner: &'a Owner,
    observed: &'a Observed,
    stream: Option<LogStream>,
    bus_arn: Option<String>,
    rule_arn: Option<String>,
}

impl<'a> Run<'a> {
    fn new(spec: &'a Spec, owner: &'a Owner, observed: &'a Observed) -> Self {
        Self {
            spec,
            owner,
            observed,
            stream: observed.stream.clone(),
            bus_arn: observed.path.bus_arn.clone(),
            rule_arn: observed.path.rule.as_ref().map(|rule| rule.arn.clone()),
        }
    }

    async fn execute(
        &mut self,
        change: &Change,
        okta: &impl LogStreams,
        aws: &impl EventBuses,
    ) -> Result<(), ProvisionError> {
        let failed = ProvisionError::step(change.to_string());
        let spec = self.spec;
        let bus = spec.partner_source.to_string();
        match change {
            Change::CreateLogStream { name } => {
                let request = LogStreamRequest::aws(name.clone(), spec.settings.clone());
                self.stream = Some(okta.create(&request).await.map_err(failed)?);
            }
            Change::RenameLogStream { id, to, .. } => {
                let settings = self.settings_of(id).ok_or_else(|| ProvisionError::Step {
                    step: change.to_string(),
                    source: "the stream has no aws_eventbridge settings".into(),
                })?;
                let request = LogStreamRequest::aws(to.clone(), settings);
                let renamed = okta.replace(id, &request).await.map_err(failed)?;
                self.keep_if_ours(renamed);
            }
            Change::ActivateLogStream { id, .. } => {
                let activated = okta.activate(id).await.map_err(failed)?;
                self.keep_if_ours(activated);
            }
            Change::AwaitPartnerSource { name } => {
                await_partner_source(aws, name, spec.partner_source_wait).await?;
            }
            Change::CreateEventBus { name } => {
                let created = aws.create_partner_event_bus(name, &self.owner.id).await;
                self.bus_arn = Some(created.map_err(failed)?);
            }
            Change::ClaimEventBus { .. } => {
                let arn = self.bus_arn.as_deref().unwrap_or_default();
                aws.set_bus_owner(arn, &self.owner.id)
                    .await
                    .map_err(failed)?;
            }
            Change::LeaveInPlace { .. } => {}
            Change::PutRule { .. } => {
                self.rule_arn = Some(aws.put_rule(&bus, &spec.rule).await.map_err(failed)?);
            }
            Change::PutTarget { rule, .. } => {
                aws.put_target(&bus, rule, &spec.rule.target)
                    .await
                    .map_err(failed)?;
            }
            Change::RemoveTargets { rule, ids } => {
                aws.remove_targets(&bus, rule, ids).await.map_err(failed)?;
            }
            Change::DeleteRule { name } => aws.delete_rule(&bus, name).await.map_err(failed)?,
            Change::DeleteEventBus { name } => aws.delete_event_bus(name).await.map_err(failed)?,
            Change::DeactivateLogStream { id, .. } => {
                okta.deactivate(id).await.map_err(failed)?;
            }
            Change::DeleteLogStream { id, .. } => okta.delete(id).await.map_err(failed)?,
        }
        Ok(())
    }

    fn settings_of(&self, id: &str) -> Option<AwsSettings> {
        [&self.stream, &self.observed.name_taken_by]
            .into_iter()
            .flatten()
            .find(|stream| stream.id == id)
            .and_then(LogStream::aws_settings)
    }

    fn keep_if_ours(&mut self, stream: LogStream) {
        if self
            .stream
            .as_ref()
            .is_some_and(|ours| ours.id == stream.id)
        {
            self.stream = Some(stream);
        }
    }
}

/// Okta creates the partner event source asynchronously after the log stream; poll for it with
/// backoff, at most `wait`. A `DELETED` source counts as absent: Okta has not (re)created it yet.
async fn await_partner_source(
    aws: &impl EventBuses,
    name: &str,
    wait: Duration,
) -> Result<(), ProvisionError> {
    let policy = RetryPolicy {
        first_delay: Duration::from_millis(500),
        max_delay: Duration::from_secs(10),
        max_attempts: u32::MAX,
        min_attempt_time: Duration::ZERO,
    };
    let attempted = policy
        .run(wait, move |_| async move {
            match aws.event_source_state(name).await {
                Ok(Some(state)) if state != "DELETED" => Ok(()),
                Ok(state) => Err(AttemptError {
                    reason: state.map_or("not found".into(), |s| format!("state {s}")),
                    status: None,
                    retryable: true,
                    retry_after: None,
                }),
                Err(error) => Err(AttemptError {
                    reason: error.to_string(),
                    status: None,
                    retryable: false,
                    retry_after: None,
                }),
            }
        })
        .await;
    attempted.result.map_err(|last| {
        if last.retryable {
            ProvisionError::PartnerSourceMissing {
                name: name.into(),
                waited: wait,
                last: format!("{} checks, the last: {}", attempted.attempts, last.reason),
            }
        } else {
            ProvisionError::Step {
                step: format!("describing partner event source {name}"),
                source: last.reason.into(),
            }
        }
    })
}

/// Removes the rule `old` names (its targets first), when an update renamed the rule: EventBridge
/// cannot rename one, so the new rule is created and the old one retired.
pub async fn retire_rule(old: &Spec, aws: &impl EventBuses) -> Result<Vec<Change>, ProvisionError> {
    let bus = old.partner_source.to_string();
    let name = &old.rule.name;
    let exists = aws
        .rule(&bus, name)
        .await
        .map_err(ProvisionError::step(format!(
            "describing the old rule `{name}`"
        )))?
        .is_some();
    if !exists {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = aws
        .targets(&bus, name)
        .await
        .map_err(ProvisionError::step(format!(
            "listing the old rule `{name}`'s targets"
        )))?
        .into_iter()
        .map(|target| target.id)
        .collect();
    let mut changes = Vec::new();
    if !ids.is_empty() {
        let change = Change::RemoveTargets {
            rule: name.clone(),
            ids: ids.clone(),
        };
        aws.remove_targets(&bus, name, &ids)
            .await
            .map_err(ProvisionError::step(change.to_string()))?;
        changes.push(change);
    }
    let change = Change::DeleteRule { name: name.clone() };
    aws.delete_rule(&bus, name)
        .await
        .map_err(ProvisionError::step(change.to_string()))?;
    changes.push(change);
    Ok(changes)
}
