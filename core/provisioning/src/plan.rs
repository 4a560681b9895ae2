//! From what exists to what should: the ordered list of changes. Pure, so `plan` and `apply`
//! cannot disagree: `apply` executes exactly this list.

use std::fmt;

use okta::{AwsSettings, LogStream, LogStreamStatus};

use crate::error::ProvisionError;
use crate::observe::{DeliveryPath, Observed};
use crate::ownership::{Holding, Owner, describe_owner, holding};
use crate::spec::Spec;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    CreateLogStream {
        name: String,
    },
    /// Give a stream another name: ours when the name changed, or the stream being replaced,
    /// to free its name for the new one.
    RenameLogStream {
        id: String,
        from: String,
        to: String,
    },
    ActivateLogStream {
        id: String,
        name: String,
    },
    AwaitPartnerSource {
        name: String,
    },
    CreateEventBus {
        name: String,
    },
    /// Tag the bus for its new owner: CloudFormation's record or `AdoptExisting` made it ours.
    ClaimEventBus {
        name: String,
        from: Option<String>,
    },
    /// Destroy leaves what belongs to another owner.
    LeaveInPlace {
        what: String,
        owner: Option<String>,
    },
    PutRule {
        name: String,
        creates: bool,
    },
    PutTarget {
        rule: String,
        id: String,
        arn: String,
    },
    RemoveTargets {
        rule: String,
        ids: Vec<String>,
    },
    DeleteRule {
        name: String,
    },
    DeleteEventBus {
        name: String,
    },
    DeactivateLogStream {
        id: String,
        name: String,
    },
    DeleteLogStream {
        id: String,
        name: String,
    },
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CreateLogStream { name } => write!(f, "create Okta log stream `{name}`"),
            Self::RenameLogStream { id, from, to } => {
                write!(f, "rename Okta log stream {id} from `{from}` to `{to}`")
            }
            Self::ActivateLogStream { id, name } => {
                write!(f, "activate Okta log stream `{name}` ({id})")
            }
            Self::AwaitPartnerSource { name } => {
                write!(
                    f,
                    "wait for partner event source {name} to appear in EventBridge"
                )
            }
            Self::CreateEventBus { name } => {
                write!(
                    f,
                    "create event bus {name}, associated with the partner source"
                )
            }
            Self::ClaimEventBus { name, from } => match from {
                Some(from) => write!(f, "take event bus {name} over from `{from}`"),
                None => write!(f, "tag event bus {name} with its owner"),
            },
            Self::LeaveInPlace { what, owner } => {
                write!(
                    f,
                    "leave {what} in place: it belongs to {}",
                    describe_owner(owner.as_deref())
                )
            }
            Self::PutRule {
                name,
                creates: true,
            } => write!(f, "create rule `{name}`"),
            Self::PutRule {
                name,
                creates: false,
            } => {
                write!(f, "update rule `{name}` (pattern, description or state)")
            }
            Self::PutTarget { rule, id, arn } => {
                write!(f, "set target `{id}` of rule `{rule}` to {arn}")
            }
            Self::RemoveTargets { rule, ids } => {
                write!(f, "remove targets {} from rule `{rule}`", ids.join(", "))
            }
            Self::DeleteRule { name } => write!(f, "delete rule `{name}`"),
            Self::DeleteEventBus { name } => write!(f, "delete event bus {name}"),
            Self::DeactivateLogStream { id, name } => {
                write!(f, "deactivate Okta log stream `{name}` ({id})")
            }
            Self::DeleteLogStream { id, name } => {
                write!(f, "delete Okta log stream `{name}` ({id})")
            }
        }
    }
}

/// The suffix given to a stream being replaced, so its successor can take the name.
pub const REPLACED_SUFFIX: &str = " (replaced)";

/// Changes that make the world match `spec`. `replacing` names the settings of a stream that is
/// being replaced (a CloudFormation update that changed a write-once setting): that stream may
/// give up its name, because CloudFormation deletes it next.
/// Removing a stream: Okta deletes only what is inactive, so an active one is deactivated first.
fn remove_stream(stream: &LogStream, changes: &mut Vec<Change>) {
    if stream.status == LogStreamStatus::Active {
        changes.push(Change::DeactivateLogStream {
            id: stream.id.clone(),
            name: stream.name.clone(),
        });
    }
    changes.push(Change::DeleteLogStream {
        id: stream.id.clone(),
        name: stream.name.clone(),
    });
}

/// Okta's limit: "You can configure up to two Log Stream integrations per org" (Log Streams API).
pub const MAX_LOG_STREAMS: usize = 2;

pub fn plan_apply(
    spec: &Spec,
    owner: &Owner,
    observed: &Observed,
    replacing: Option<&AwsSettings>,
) -> Result<Vec<Change>, ProvisionError> {
    let mut changes = Vec::new();
    let claim = plan_claim(
        spec,
        owner,
        spec.adopt_existing,
        observed.stream.as_ref(),
        &observed.path,
    );
    match claim {
        Ok(claim) => changes.extend(claim),
        Err(theirs) => {
            return Err(ProvisionError::OwnedElsewhere {
                what: owned_things(spec, observed),
                owner: describe_owner(theirs.as_deref()),
            });
        }
    }
    // Okta allows two log streams per org. A replacement normally creates the new stream first
    // and CloudFormation deletes the old one afterwards; at the limit the old one goes first
    // (its events from then until the new stream exists are in the System Log, for a backfill).
    let replaced = replacing.and_then(|settings| {
        observed
            .org_streams
            .iter()
            .find(|stream| stream.aws_settings().as_ref() == Some(settings))
    });
    let at_limit = observed.stream.is_none() && observed.org_streams.len() >= MAX_LOG_STREAMS;
    if at_limit {
        let Some(old) = replaced else {
            return Err(ProvisionError::StreamLimit {
                streams: observed
                    .org_streams
                    .iter()
                    .map(|stream| {
                        format!(
                            "`{}` ({}, {}, {:?})",
                            stream.name, stream.stream_type, stream.id, stream.status
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        };
        remove_stream(old, &mut changes);
    }
    if let Some(holder) = &observed.name_taken_by {
        let being_replaced = replacing.is_some() && holder.aws_settings().as_ref() == replacing;
        if !being_replaced {
            return Err(ProvisionError::NameTaken {
                name: spec.log_stream_name.clone(),
                id: holder.id.clone(),
            });
        }
        if !at_limit {
            changes.push(Change::RenameLogStream {
                id: holder.id.clone(),
                from: holder.name.clone(),
                to: format!("{}{REPLACED_SUFFIX}", holder.name),
            });
        }
    }
    match &observed.stream {
        None => changes.push(Change::CreateLogStream {
            name: spec.log_stream_name.clone(),
        }),
        Some(stream) => {
            if stream.name != spec.log_stream_name {
                changes.push(Change::RenameLogStream {
                    id: stream.id.clone(),
                    from: stream.name.clone(),
                    to: spec.log_stream_name.clone(),
                });
            }
            if stream.status == LogStreamStatus::Inactive {
                changes.push(Change::ActivateLogStream {
                    id: stream.id.clone(),
                    name: spec.log_stream_name.clone(),
                });
            }
        }
    }
    let source_usable =
        matches!(observed.path.source_state.as_deref(), Some(state) if state != "DELETED");
    if observed.stream.is_none() || !source_usable {
        changes.push(Change::AwaitPartnerSource {
            name: spec.partner_source.to_string(),
        });
    }
    changes.extend(plan_path(spec, &observed.path));
    Ok(changes)
}

/// What `owner` must do before changing the stream and bus found: nothing when they are its
/// own, tag the bus when it takes them over; `Err` with the owner's tag when they are another
/// owner's. One reading for `apply` and the watchdog's repair.
pub fn plan_claim(
    spec: &Spec,
    owner: &Owner,
    adopt_existing: bool,
    stream: Option<&LogStream>,
    path: &DeliveryPath,
) -> Result<Option<Change>, Option<String>> {
    match holding(owner, adopt_existing, stream, path) {
        Holding::Ours => Ok(None),
        Holding::Take { from } => Ok(path.bus_arn.as_ref().map(|_| Change::ClaimEventBus {
            name: spec.partner_source.to_string(),
            from,
        })),
        Holding::Theirs { owner } => Err(owner),
    }
}

/// The AWS side of the path from the partner source to the rule's target: the bus, the rule
/// and its target as `spec` describes them, and no other target.
pub fn plan_path(spec: &Spec, path: &DeliveryPath) -> Vec<Change> {
    let source = spec.partner_source.to_string();
    let mut changes = Vec::new();
    if path.bus_arn.is_none() {
        changes.push(Change::CreateEventBus {
            name: source.clone(),
        });
    }
    let rule = &spec.rule;
    let rule_current = path.rule.as_ref().is_some_and(|current| {
        current.enabled
            && current.description.as_deref() == Some(rule.description.as_str())
            && same_json(current.pattern.as_deref(), &rule.pattern)
    });
    if !rule_current {
        changes.push(Change::PutRule {
            name: rule.name.clone(),
            creates: path.rule.is_none(),
        });
    }
    if !path.targets.iter().any(|t| t.matches(&rule.target)) {
        changes.push(Change::PutTarget {
            rule: rule.name.clone(),
            id: rule.target.id.clone(),
            arn: rule.target.arn.clone(),
        });
    }
    let strays: Vec<String> = path
        .targets
        .iter()
        .filter(|t| t.id != rule.target.id)
        .map(|t| t.id.clone())
        .collect();
    if !strays.is_empty() {
        changes.push(Change::RemoveTargets {
            rule: rule.name.clone(),
            ids: strays,
        });
    }
    changes
}

/// What a stack would share with another: the stream and the bus on its partner source.
fn owned_things(spec: &Spec, observed: &Observed) -> String {
    let stream = observed
        .stream
        .as_ref()
        .map(|stream| format!("Okta log stream `{}` ({})", stream.name, stream.id));
    let bus = observed
        .path
        .bus_arn
        .as_ref()
        .map(|_| format!("event bus {}", spec.partner_source));
    [stream, bus]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" and ")
}

/// Changes that remove everything `spec` describes that `owner` owns; nothing for what is
/// already gone, and only a [`Change::LeaveInPlace`] for what belongs to another owner.
pub fn plan_destroy(spec: &Spec, owner: &Owner, observed: &Observed) -> Vec<Change> {
    let mut changes = Vec::new();
    if let Holding::Theirs { owner } = holding(
        owner,
        spec.adopt_existing,
        observed.stream.as_ref(),
        &observed.path,
    ) {
        changes.push(Change::LeaveInPlace {
            what: owned_things(spec, observed),
            owner,
        });
        return changes;
    }
    let rule = spec.rule.name.clone();
    if !observed.path.targets.is_empty() {
        changes.push(Change::RemoveTargets {
            rule: rule.clone(),
            ids: observed.path.targets.iter().map(|t| t.id.clone()).collect(),
        });
    }
    if observed.path.rule.is_some() {
        changes.push(Change::DeleteRule { name: rule });
    }
    if observed.path.bus_arn.is_some() {
        changes.push(Change::DeleteEventBus {
            name: spec.partner_source.to_string(),
        });
    }
    if let Some(stream) = &observed.stream {
        remove_stream(stream, &mut changes);
    }
    changes
}

/// EventBridge may reformat a pattern (whitespace, key order), so compare the JSON.
fn same_json(current: Option<&str>, desired: &str) -> bool {
    let parse = |text: &str| serde_json::from_str::<serde_json::Value>(text).ok();
    current
        .and_then(parse)
        .is_some_and(|current| Some(current) == parse(desired))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::DeliveryPath;
    use crate::ports::{RuleState, TargetState};
    use okta::LogStream;

    fn spec() -> Spec {
        crate::spec::tests::input().validate().unwrap()
    }

    const STACK: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/okta-relay/1";

    fn owner() -> Owner {
        Owner::new(STACK)
    }

    fn stream(id: &str, name: &str, event_source_name: &str, status: LogStreamStatus) -> LogStream {
        LogStream {
            id: id.into(),
            name: name.into(),
            stream_type: okta::AWS_EVENTBRIDGE.into(),
            status,
            settings: Some(serde_json::json!({
                "accountId": "123456789012", "eventSourceName": event_source_name,
                "region": "us-east-1"
            })),
            created: None,
            last_updated: None,
        }
    }

    fn converged(spec: &Spec) -> Observed {
        let target = &spec.rule.target;
        Observed {
            stream: Some(stream(
                "0oa1",
                "okta-relay",
                "okta-relay",
                LogStreamStatus::Active,
            )),
            name_taken_by: None,
            org_streams: vec![stream(
                "0oa1",
                "okta-relay",
                "okta-relay",
                LogStreamStatus::Active,
            )],
            path: DeliveryPath {
                source_state: Some("ACTIVE".into()),
                bus_arn: Some("arn:bus".into()),
                bus_owner: Some(STACK.into()),
                rule: Some(RuleState {
                    arn: "arn:rule".into(),
                    pattern: Some(r#"{ "detail": {"eventType": [{"prefix": "user."}]} }"#.into()),
                    description: Some(spec.rule.description.clone()),
                    enabled: true,
                }),
                targets: vec![TargetState {
                    id: target.id.clone(),
                    arn: target.arn.clone(),
                    dead_letter_arn: target.dead_letter_arn.clone(),
                    maximum_retry_attempts: Some(target.maximum_retry_attempts),
                    maximum_event_age_seconds: Some(target.maximum_event_age_seconds),
                }],
            },
        }
    }

    #[test]
    fn from_nothing_creates_everything_in_order() {
        let changes = plan_apply(&spec(), &owner(), &Observed::default(), None).unwrap();
        let names: Vec<String> = changes.iter().map(ToString::to_string).collect();
        assert_eq!(
            names,
            [
                "create Okta log stream `okta-relay`",
                "wait for partner event source aws.partner/okta.com/example/okta-relay to appear in EventBridge",
                "create event bus aws.partner/okta.com/example/okta-relay, associated with the partner source",
                "create rule `okta-relay`",
                "set target `okta-relay` of rule `okta-relay` to arn:aws:sqs:us-east-1:123456789012:okta-relay-inbox",
            ]
        );
    }

    #[test]
    fn converged_state_needs_nothing_even_if_the_pattern_is_reformatted() {
        let spec = spec();
        assert_eq!(
            plan_apply(&spec, &owner(), &converged(&spec), None).unwrap(),
            []
        );
        assert_eq!(plan_destroy(&spec, &owner(), &Observed::default()), []);
    }

    #[test]
    fn deactivated_stream_is_activated_and_changed_settings_updated_in_place() {
        let spec = spec();
        let mut observed = converged(&spec);
        observed.stream = Some(stream(
            "0oa1",
            "old",
            "okta-relay",
            LogStreamStatus::Inactive,
        ));
        observed.path.rule.as_mut().unwrap().pattern = Some(r#"{"source":["x"]}"#.into());
        observed.path.targets[0].maximum_retry_attempts = Some(3);
        observed.path.targets.push(TargetState {
            id: "stray".into(),
            ..observed.path.targets[0].clone()
        });
        let changes = plan_apply(&spec, &owner(), &observed, None).unwrap();
        assert_eq!(
            changes,
            [
                Change::RenameLogStream {
                    id: "0oa1".into(),
                    from: "old".into(),
                    to: "okta-relay".into()
                },
                Change::ActivateLogStream {
                    id: "0oa1".into(),
                    name: "okta-relay".into()
                },
                Change::PutRule {
                    name: "okta-relay".into(),
                    creates: false
                },
                Change::PutTarget {
                    rule: "okta-relay".into(),
                    id: "okta-relay".into(),
                    arn: spec.rule.target.arn.clone()
                },
                Change::RemoveTargets {
                    rule: "okta-relay".into(),
                    ids: vec!["stray".into()]
                },
            ]
        );
    }

    #[test]
    fn a_name_held_by_another_stream_is_refused_unless_that_stream_is_being_replaced() {
        let spec = spec();
        let holder = stream("0oa0", "okta-relay", "previous", LogStreamStatus::Active);
        let observed = Observed {
            name_taken_by: Some(holder.clone()),
            ..Observed::default()
        };
        let error = plan_apply(&spec, &owner(), &observed, None)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("already holds the name `okta-relay`"),
            "{error}"
        );
        let previous = holder.aws_settings().unwrap();
        let changes = plan_apply(&spec, &owner(), &observed, Some(&previous)).unwrap();
        assert_eq!(
            changes[..2],
            [
                Change::RenameLogStream {
                    id: "0oa0".into(),
                    from: "okta-relay".into(),
                    to: "okta-relay (replaced)".into()
                },
                Change::CreateLogStream {
                    name: "okta-relay".into()
                },
            ]
        );
    }

    #[test]
    fn at_the_two_stream_limit_a_replacement_deletes_the_old_stream_first_and_a_new_stream_is_refused()
     {
        let spec = spec();
        let old = stream("0oa0", "okta-relay", "previous", LogStreamStatus::Active);
        let mut splunk = stream("0oa9", "siem", "x", LogStreamStatus::Active);
        splunk.stream_type = "splunk_cloud_logstreaming".into();
        let observed = Observed {
            name_taken_by: Some(old.clone()),
            org_streams: vec![old.clone(), splunk.clone()],
            ..Observed::default()
        };
        let changes = plan_apply(&spec, &owner(), &observed, old.aws_settings().as_ref()).unwrap();
        assert_eq!(
            changes[..3],
            [
                Change::DeactivateLogStream {
                    id: "0oa0".into(),
                    name: "okta-relay".into()
                },
                Change::DeleteLogStream {
                    id: "0oa0".into(),
                    name: "okta-relay".into()
                },
                Change::CreateLogStream {
                    name: "okta-relay".into()
                },
            ]
        );

        let full = Observed {
            org_streams: vec![old, splunk],
            ..Observed::default()
        };
        let error = plan_apply(&spec, &owner(), &full, None)
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("Okta allows two log streams per org, and this org has them: `okta-relay` (aws_eventbridge, 0oa0, Active), `siem` (splunk_cloud_logstreaming, 0oa9, Active)"),
            "{error}"
        );
        assert!(error.ends_with("nothing was changed"), "{error}");
    }

    #[test]
    fn destroy_removes_in_dependency_order() {
        let spec = spec();
        let changes: Vec<String> = plan_destroy(&spec, &owner(), &converged(&spec))
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            changes,
            [
                "remove targets okta-relay from rule `okta-relay`",
                "delete rule `okta-relay`",
                "delete event bus aws.partner/okta.com/example/okta-relay",
                "deactivate Okta log stream `okta-relay` (0oa1)",
                "delete Okta log stream `okta-relay` (0oa1)",
            ]
        );
    }

    #[test]
    fn another_owners_stream_and_bus_are_refused_on_apply_and_left_on_destroy() {
        let spec = spec();
        let mut observed = converged(&spec);
        observed.path.bus_owner =
            Some("arn:aws:cloudformation:us-east-1:123456789012:stack/first/1".into());
        let error = plan_apply(&spec, &owner(), &observed, None)
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with(
                "Okta log stream `okta-relay` (0oa1) and event bus aws.partner/okta.com/example/okta-relay already belong to `arn:aws:cloudformation:us-east-1:123456789012:stack/first/1`"
            ),
            "{error}"
        );
        assert!(error.contains("AdoptExisting=true"), "{error}");
        assert_eq!(
            plan_destroy(&spec, &owner(), &observed)
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            [
                "leave Okta log stream `okta-relay` (0oa1) and event bus aws.partner/okta.com/example/okta-relay in place: it belongs to `arn:aws:cloudformation:us-east-1:123456789012:stack/first/1`"
            ]
        );

        let adopting = Spec {
            adopt_existing: true,
            ..spec.clone()
        };
        assert_eq!(
            plan_apply(&adopting, &owner(), &observed, None).unwrap(),
            [Change::ClaimEventBus {
                name: "aws.partner/okta.com/example/okta-relay".into(),
                from: observed.path.bus_owner.clone(),
            }]
        );
    }

    #[test]
    fn a_stack_from_before_the_tag_claims_its_bus_by_cloudformations_record() {
        let spec = spec();
        let mut observed = converged(&spec);
        observed.path.bus_owner = None;
        assert!(plan_apply(&spec, &owner(), &observed, None).is_err());
        let recorded = Owner {
            recorded_stream_id: Some("0oa1".into()),
            ..owner()
        };
        assert_eq!(
            plan_apply(&spec, &recorded, &observed, None).unwrap(),
            [Change::ClaimEventBus {
                name: "aws.partner/okta.com/example/okta-relay".into(),
                from: None,
            }]
        );
    }
}
