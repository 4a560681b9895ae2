//! The watchdog's check: Okta deactivates a log stream when its target stops acknowledging, and
//! then sends nothing until someone activates it again. Find the stream; if it is off, ask the
//! System Log who turned it off: activate it again only if Okta did (a person's decision stands
//! until the stack's own update or an operator turns it back on), and say since when it was out.

use okta::{AwsSettings, LogStream, LogStreamStatus, Who};
use serde::Serialize;

use crate::error::ProvisionError;
use crate::execute::{Repair, repair_path};
use crate::observe::{ExpectedRule, find_by_settings, observe_path};
use crate::ownership::{Owner, describe_owner};
use crate::ports::{EventBuses, LogStreams, StreamHistory};
use crate::spec::Spec;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamHealth {
    /// Streaming.
    Active,
    /// Okta had deactivated it; it has been activated again.
    Reactivated,
    /// A person (or an automation acting for one) deactivated it: left off, and reported.
    DeactivatedByPerson,
    /// No `aws_eventbridge` stream with these settings: provisioning's job, not the watchdog's.
    Missing,
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Watch {
    pub health: StreamHealth,
    pub log_stream_id: Option<String>,
    /// When the stream went off: the deactivation event's `published` time, or, when the
    /// System Log holds no such event, the stream's `lastUpdated` (see `inactive_since_from`).
    pub inactive_since: Option<String>,
    /// `deactivation_event` or `last_updated`.
    pub inactive_since_from: Option<&'static str>,
    /// Who deactivated it, when the System Log says.
    pub deactivated_by: Option<Who>,
    pub partner_event_source_state: Option<String>,
    /// While Okta streams: what on the AWS side stops its events from reaching the relay
    /// ([`crate::DeliveryPath::problems`]); empty when the path works.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub path_problems: Vec<String>,
    /// What this check found broken on the AWS side and repaired (the changes made); the path
    /// was broken until now even when `path_problems` is empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub path_repaired: Vec<String>,
}

impl Watch {
    /// The path from Okta to the relay was found broken by this check (and may be whole again).
    pub fn path_was_broken(&self) -> bool {
        !self.path_problems.is_empty() || !self.path_repaired.is_empty()
    }
}

/// What the watchdog may repair on the AWS side: the path `spec` describes, where `owner` owns it.
#[derive(Debug, Clone, Copy)]
pub struct Repairs<'a> {
    pub spec: &'a Spec,
    pub owner: &'a Owner,
}

/// Checks the stream streaming to `partner_source`; activates it again if Okta deactivated it.
/// When the System Log cannot be read, nothing is activated (it could be a person's decision):
/// the error says so and the next run tries again. While Okta streams, the AWS side of the path
/// to `rule` is checked too (`path_problems`), and repaired where `repairs` allows.
pub async fn watch(
    settings: &AwsSettings,
    partner_source: &str,
    rule: Option<&ExpectedRule<'_>>,
    repairs: Option<Repairs<'_>>,
    okta: &(impl LogStreams + StreamHistory),
    aws: &impl EventBuses,
) -> Result<Watch, ProvisionError> {
    let streams = okta
        .list()
        .await
        .map_err(ProvisionError::step("listing Okta log streams"))?;
    let path = observe_path(partner_source, rule.map(|rule| rule.name), aws).await?;
    let mut watch = Watch {
        health: StreamHealth::Missing,
        log_stream_id: None,
        inactive_since: None,
        inactive_since_from: None,
        deactivated_by: None,
        partner_event_source_state: path.source_state.clone(),
        path_problems: Vec::new(),
        path_repaired: Vec::new(),
    };
    let Some(stream) = find_by_settings(&streams, settings) else {
        return Ok(watch);
    };
    watch.log_stream_id = Some(stream.id.clone());
    watch.health = if stream.status == LogStreamStatus::Active {
        StreamHealth::Active
    } else {
        let deactivation = okta.last_deactivation(&stream.id).await.map_err(
            ProvisionError::step(format!(
                "reading who deactivated Okta log stream `{}` ({}) from the System Log; it stays \
                 off until that is known",
                stream.name, stream.id
            )),
        )?;
        (watch.inactive_since, watch.inactive_since_from) = match &deactivation {
            Some(event) => (
                Some(
                    event
                        .published
                        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                ),
                Some("deactivation_event"),
            ),
            None => (stream.last_updated.clone(), Some("last_updated")),
        };
        watch.deactivated_by = deactivation.map(|event| event.by);
        if watch
            .deactivated_by
            .as_ref()
            .is_some_and(|who| !who.is_okta())
        {
            return Ok(Watch {
                health: StreamHealth::DeactivatedByPerson,
                ..watch
            });
        }
        okta.activate(&stream.id)
            .await
            .map_err(ProvisionError::step(format!(
                "activating Okta log stream `{}` ({})",
                stream.name, stream.id
            )))?;
        StreamHealth::Reactivated
    };
    watch.path_problems = path.problems(partner_source, rule);
    if let Some(repairs) = repairs.filter(|_| !watch.path_problems.is_empty()) {
        repair(&mut watch, &stream, &path, repairs, rule, okta, aws).await?;
    }
    Ok(watch)
}

/// EventBridge drops what a partner sends while the path is broken, so the watchdog makes it
/// whole again where the stack owns it, then checks it afresh.
async fn repair(
    watch: &mut Watch,
    stream: &LogStream,
    path: &crate::DeliveryPath,
    repairs: Repairs<'_>,
    rule: Option<&ExpectedRule<'_>>,
    okta: &(impl LogStreams + StreamHistory),
    aws: &impl EventBuses,
) -> Result<(), ProvisionError> {
    match repair_path(repairs.spec, repairs.owner, stream, path, okta, aws).await? {
        Repair::Repaired(changes) => {
            watch.path_repaired = changes.iter().map(ToString::to_string).collect();
            let source = repairs.spec.partner_source.to_string();
            let path = observe_path(&source, rule.map(|rule| rule.name), aws).await?;
            watch.partner_event_source_state = path.source_state.clone();
            watch.path_problems = path.problems(&source, rule);
        }
        Repair::NotOurs { owner } => watch.path_problems.push(format!(
            "the event bus belongs to {}: the watchdog repairs only its own stack's path",
            describe_owner(owner.as_deref())
        )),
        Repair::SourceGone => {}
    }
    Ok(())
}
