//! Who owns a stream and its bus, so two stacks with the same names never share, rewrite or
//! delete each other's. Okta's log streams carry no tags, so ownership is written on the partner
//! event bus (tag [`OWNER_TAG`]), which exists exactly while the stream's events are routed
//! somewhere. For a stack deployed before the tag, CloudFormation's own record proves it: the
//! custom resource's physical id is the id of the stream it made.

use okta::LogStream;

use crate::observe::DeliveryPath;

/// The partner bus's tag naming its owner: a CloudFormation stack id, or the CLI's `--owner`.
pub const OWNER_TAG: &str = "okta-relay:owner";

/// Who is provisioning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// The CloudFormation stack id (`arn:aws:cloudformation:…:stack/<name>/<guid>`), or the
    /// CLI's `--owner`.
    pub id: String,
    /// The stream CloudFormation's record names for this resource (its physical id), on Update
    /// and Delete.
    pub recorded_stream_id: Option<String>,
    /// This Delete follows a Create that failed: a stream with no bus yet may be what that
    /// Create left, and is removed.
    pub after_failed_create: bool,
}

impl Owner {
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            recorded_stream_id: None,
            after_failed_create: false,
        }
    }
}

/// Whose the stream and bus found are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holding {
    /// Nothing exists yet, or the bus carries this owner's tag.
    Ours,
    /// This owner's by CloudFormation's record or by `AdoptExisting`, and the bus (when there is
    /// one) is tagged for it now; `from` is the owner it is taken from.
    Take { from: Option<String> },
    /// Another owner's (`owner`), or nobody's that okta-relay knows (`None`: a bus without the
    /// tag, or a stream with no bus, made by hand or by an interrupted deployment).
    Theirs { owner: Option<String> },
}

/// Whose `stream` (found by its settings) and the bus on its partner source (`path`) are, for
/// `owner`, which may take over what is not its own when `adopt_existing`. The tag wins over
/// CloudFormation's record: a tag naming another owner means that owner adopted it since.
pub fn holding(
    owner: &Owner,
    adopt_existing: bool,
    stream: Option<&LogStream>,
    path: &DeliveryPath,
) -> Holding {
    let tag = path.bus_owner.clone();
    if path.bus_arn.is_none() && stream.is_none() {
        return Holding::Ours;
    }
    if tag.as_deref() == Some(owner.id.as_str()) {
        return Holding::Ours;
    }
    let recorded = tag.is_none()
        && stream.is_some_and(|stream| {
            owner.recorded_stream_id.as_deref() == Some(stream.id.as_str())
                || (owner.after_failed_create && path.bus_arn.is_none())
        });
    if recorded || adopt_existing {
        return Holding::Take { from: tag };
    }
    Holding::Theirs { owner: tag }
}

/// How a refusal names the owner.
pub fn describe_owner(owner: Option<&str>) -> String {
    match owner {
        Some(owner) => format!("`{owner}`"),
        None => format!(
            "no owner okta-relay knows (no event bus, or one without the {OWNER_TAG} tag: made \
             by hand, by another tool, or by a deployment that was interrupted)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use okta::LogStreamStatus;

    fn stream() -> LogStream {
        LogStream {
            id: "0oa1".into(),
            name: "okta-relay".into(),
            stream_type: okta::AWS_EVENTBRIDGE.into(),
            status: LogStreamStatus::Active,
            settings: None,
            created: None,
            last_updated: None,
        }
    }

    fn path(bus: bool, tag: Option<&str>) -> DeliveryPath {
        DeliveryPath {
            bus_arn: bus.then(|| "arn:bus".to_string()),
            bus_owner: tag.map(Into::into),
            ..DeliveryPath::default()
        }
    }

    const A: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/a/1";
    const B: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/b/2";

    #[test]
    fn nothing_yet_or_our_tag_is_ours() {
        let a = Owner::new(A);
        assert_eq!(holding(&a, false, None, &path(false, None)), Holding::Ours);
        assert_eq!(
            holding(&a, false, Some(&stream()), &path(true, Some(A))),
            Holding::Ours
        );
    }

    #[test]
    fn another_stacks_tag_is_refused_unless_adopted_even_against_cloudformations_record() {
        let mut b = Owner::new(B);
        b.recorded_stream_id = Some("0oa1".into());
        let theirs = Holding::Theirs {
            owner: Some(A.into()),
        };
        assert_eq!(
            holding(&b, false, Some(&stream()), &path(true, Some(A))),
            theirs
        );
        assert_eq!(
            holding(&b, true, Some(&stream()), &path(true, Some(A))),
            Holding::Take {
                from: Some(A.into())
            }
        );
    }

    #[test]
    fn an_untagged_stream_is_ours_by_cloudformations_record_or_after_our_failed_create() {
        let unknown = Holding::Theirs { owner: None };
        let a = Owner::new(A);
        assert_eq!(
            holding(&a, false, Some(&stream()), &path(true, None)),
            unknown
        );
        assert_eq!(
            holding(&a, false, Some(&stream()), &path(false, None)),
            unknown
        );
        let recorded = Owner {
            recorded_stream_id: Some("0oa1".into()),
            ..Owner::new(A)
        };
        assert_eq!(
            holding(&recorded, false, Some(&stream()), &path(true, None)),
            Holding::Take { from: None }
        );
        let cleaning_up = Owner {
            after_failed_create: true,
            ..Owner::new(A)
        };
        assert_eq!(
            holding(&cleaning_up, false, Some(&stream()), &path(false, None)),
            Holding::Take { from: None }
        );
        assert_eq!(
            holding(&cleaning_up, false, Some(&stream()), &path(true, None)),
            unknown,
            "a bus means the stream was routed before that Create"
        );
    }
}
