//! The provisioner's EventBridge port: the partner event source, the bus associated with it, the
//! rule and its target. "Not found" answers become `None` or success, so every call can repeat.

use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::error::ProvideErrorMetadata;
use aws_sdk_eventbridge::types::{
    DeadLetterConfig, RetryPolicy, RuleState as SdkRuleState, Tag, Target,
};
use provisioning::{
    EventBuses, OWNER_TAG, PortError, RuleSpec, RuleState, TargetSpec, TargetState,
};

use crate::describe;

pub struct EventBridgeBuses {
    client: Client,
}

impl EventBridgeBuses {
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EventBridgeError {
    #[error("EventBridge {operation} failed: {detail}")]
    Call {
        operation: &'static str,
        detail: String,
    },
    #[error("EventBridge {operation} refused entries: {detail}")]
    FailedEntries {
        operation: &'static str,
        detail: String,
    },
}

/// Sorts an SDK error into "not found" (`Ok(None)`) or a failure naming the operation.
fn not_found_or<E>(
    operation: &'static str,
    error: aws_sdk_eventbridge::error::SdkError<E>,
) -> Result<(), PortError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if error.code() == Some("ResourceNotFoundException") {
        return Ok(());
    }
    Err(Box::new(EventBridgeError::Call {
        operation,
        detail: describe(&error),
    }))
}

fn failure<E>(
    operation: &'static str,
) -> impl FnOnce(aws_sdk_eventbridge::error::SdkError<E>) -> PortError
where
    E: std::error::Error + Send + Sync + 'static,
{
    move |error| {
        Box::new(EventBridgeError::Call {
            operation,
            detail: describe(&error),
        })
    }
}

fn owner_tag(owner: &str) -> Result<Tag, PortError> {
    Ok(Tag::builder().key(OWNER_TAG).value(owner).build()?)
}

impl EventBuses for EventBridgeBuses {
    async fn event_source_state(&self, name: &str) -> Result<Option<String>, PortError> {
        match self.client.describe_event_source().name(name).send().await {
            Ok(source) => Ok(Some(
                source
                    .state()
                    .map_or_else(|| "UNKNOWN".into(), |state| state.as_str().into()),
            )),
            Err(error) => not_found_or("DescribeEventSource", error).map(|()| None),
        }
    }

    async fn event_bus_arn(&self, name: &str) -> Result<Option<String>, PortError> {
        match self.client.describe_event_bus().name(name).send().await {
            Ok(bus) => Ok(bus.arn().map(Into::into)),
            Err(error) => not_found_or("DescribeEventBus", error).map(|()| None),
        }
    }

    async fn create_partner_event_bus(
        &self,
        source: &str,
        owner: &str,
    ) -> Result<String, PortError> {
        let created = self
            .client
            .create_event_bus()
            .name(source)
            .event_source_name(source)
            .tags(owner_tag(owner)?)
            .send()
            .await;
        match created {
            Ok(bus) => Ok(bus.event_bus_arn().unwrap_or_default().into()),
            // Created by an earlier, interrupted attempt: converge on it.
            Err(error) if error.code() == Some("ResourceAlreadyExistsException") => self
                .event_bus_arn(source)
                .await?
                .ok_or_else(|| failure("CreateEventBus")(error)),
            Err(error) => Err(failure("CreateEventBus")(error)),
        }
    }

    async fn bus_owner(&self, bus_arn: &str) -> Result<Option<String>, PortError> {
        let listed = self
            .client
            .list_tags_for_resource()
            .resource_arn(bus_arn)
            .send()
            .await
            .map_err(failure("ListTagsForResource"))?;
        Ok(listed
            .tags()
            .iter()
            .find(|tag| tag.key() == OWNER_TAG)
            .map(|tag| tag.value().to_owned()))
    }

    async fn set_bus_owner(&self, bus_arn: &str, owner: &str) -> Result<(), PortError> {
        self.client
            .tag_resource()
            .resource_arn(bus_arn)
            .tags(owner_tag(owner)?)
            .send()
            .await
            .map_err(failure("TagResource"))?;
        Ok(())
    }

    async fn delete_event_bus(&self, name: &str) -> Result<(), PortError> {
        match self.client.delete_event_bus().name(name).send().await {
            Ok(_) => Ok(()),
            Err(error) => not_found_or("DeleteEventBus", error),
        }
    }

    async fn rule(&self, bus: &str, name: &str) -> Result<Option<RuleState>, PortError> {
        let described = self
            .client
            .describe_rule()
            .event_bus_name(bus)
            .name(name)
            .send()
            .await;
        match described {
            Ok(rule) => Ok(Some(RuleState {
                arn: rule.arn().unwrap_or_default().into(),
                pattern: rule.event_pattern().map(Into::into),
                description: rule.description().map(Into::into),
                enabled: rule.state() == Some(&SdkRuleState::Enabled),
            })),
            Err(error) => not_found_or("DescribeRule", error).map(|()| None),
        }
    }

    async fn put_rule(&self, bus: &str, rule: &RuleSpec) -> Result<String, PortError> {
        let put = self
            .client
            .put_rule()
            .event_bus_name(bus)
            .name(&rule.name)
            .event_pattern(&rule.pattern)
            .description(&rule.description)
            .state(SdkRuleState::Enabled)
            .send()
            .await
            .map_err(failure("PutRule"))?;
        Ok(put.rule_arn().unwrap_or_default().into())
    }

    async fn delete_rule(&self, bus: &str, name: &str) -> Result<(), PortError> {
        match self
            .client
            .delete_rule()
            .event_bus_name(bus)
            .name(name)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(error) => not_found_or("DeleteRule", error),
        }
    }

    async fn targets(&self, bus: &str, rule: &str) -> Result<Vec<TargetState>, PortError> {
        let mut targets = Vec::new();
        let mut next_token = None;
        loop {
            let page = self
                .client
                .list_targets_by_rule()
                .event_bus_name(bus)
                .rule(rule)
                .set_next_token(next_token)
                .send()
                .await;
            let page = match page {
                Ok(page) => page,
                Err(error) => return not_found_or("ListTargetsByRule", error).map(|()| targets),
            };
            targets.extend(page.targets().iter().map(|target| {
                TargetState {
                    id: target.id().into(),
                    arn: target.arn().into(),
                    dead_letter_arn: target
                        .dead_letter_config()
                        .and_then(DeadLetterConfig::arn)
                        .map(Into::into),
                    maximum_retry_attempts: target
                        .retry_policy()
                        .and_then(RetryPolicy::maximum_retry_attempts)
                        .and_then(|n| u32::try_from(n).ok()),
                    maximum_event_age_seconds: target
                        .retry_policy()
                        .and_then(RetryPolicy::maximum_event_age_in_seconds)
                        .and_then(|n| u32::try_from(n).ok()),
                }
            }));
            next_token = page.next_token().map(Into::into);
            if next_token.is_none() {
                return Ok(targets);
            }
        }
    }

    async fn put_target(
        &self,
        bus: &str,
        rule: &str,
        target: &TargetSpec,
    ) -> Result<(), PortError> {
        let retry = RetryPolicy::builder()
            .maximum_retry_attempts(i32::try_from(target.maximum_retry_attempts).unwrap_or(185))
            .maximum_event_age_in_seconds(
                i32::try_from(target.maximum_event_age_seconds).unwrap_or(86_400),
            )
            .build();
        let built = Target::builder()
            .id(&target.id)
            .arn(&target.arn)
            .retry_policy(retry)
            .set_dead_letter_config(
                target
                    .dead_letter_arn
                    .as_ref()
                    .map(|arn| DeadLetterConfig::builder().arn(arn).build()),
            )
            .build()
            .map_err(|error| -> PortError { Box::new(error) })?;
        let put = self
            .client
            .put_targets()
            .event_bus_name(bus)
            .rule(rule)
            .targets(built)
            .send()
            .await
            .map_err(failure("PutTargets"))?;
        refused(
            "PutTargets",
            put.failed_entry_count(),
            put.failed_entries()
                .iter()
                .map(|e| (e.target_id(), e.error_code(), e.error_message())),
        )
    }

    async fn remove_targets(&self, bus: &str, rule: &str, ids: &[String]) -> Result<(), PortError> {
        let removed = self
            .client
            .remove_targets()
            .event_bus_name(bus)
            .rule(rule)
            .set_ids(Some(ids.to_vec()))
            .send()
            .await;
        match removed {
            Ok(removed) => refused(
                "RemoveTargets",
                removed.failed_entry_count(),
                removed
                    .failed_entries()
                    .iter()
                    .map(|e| (e.target_id(), e.error_code(), e.error_message())),
            ),
            Err(error) => not_found_or("RemoveTargets", error),
        }
    }
}

/// PutTargets and RemoveTargets succeed as calls while refusing single entries.
fn refused<'a>(
    operation: &'static str,
    count: i32,
    entries: impl Iterator<Item = (Option<&'a str>, Option<&'a str>, Option<&'a str>)>,
) -> Result<(), PortError> {
    if count == 0 {
        return Ok(());
    }
    let detail = entries
        .map(|(id, code, message)| {
            format!(
                "target {}: {} {}",
                id.unwrap_or("?"),
                code.unwrap_or("?"),
                message.unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    Err(Box::new(EventBridgeError::FailedEntries {
        operation,
        detail,
    }))
}
