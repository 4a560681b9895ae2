#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

//! The provisioning logic with its real adapters (`okta-api`, `aws-adapters`) against moto's
//! EventBridge and the fake Okta, which checks every request and response against Okta's
//! OpenAPI contract and creates the partner event source in moto as Okta does in AWS.

use std::time::Duration;

use aws_adapters::EventBridgeBuses;
use okta_api::OktaClient;
use okta_relay_e2e::fake_okta::{FakeOkta, Fault, PartnerSources};
use okta_relay_e2e::moto::MotoServer;
use provisioning::{Change, Owner, Provisioned, SpecInput, Status, apply, destroy, status};
use retry::RetryPolicy;
use secrecy::SecretString;
use serde_json::json;

const TOKEN: &str = "00TEST-okta-api-token-never-logged";
const ACCOUNT: &str = "123456789012";

struct World {
    okta: FakeOkta,
    client: OktaClient,
    buses: EventBridgeBuses,
    eventbridge: aws_sdk_eventbridge::Client,
    _moto: MotoServer,
}

async fn world() -> World {
    let moto = MotoServer::start().unwrap();
    let aws = moto.sdk_config().await;
    let okta = FakeOkta::start(TOKEN, Some(aws.clone())).await.unwrap();
    let client = okta_client(&okta, TOKEN);
    let eventbridge = aws_sdk_eventbridge::Client::new(&aws);
    World {
        buses: EventBridgeBuses::new(eventbridge.clone()),
        eventbridge,
        okta,
        client,
        _moto: moto,
    }
}

/// Retries fast: the tests are about outcomes, not Okta's real rate-limit windows.
fn okta_client(okta: &FakeOkta, token: &str) -> OktaClient {
    let policy = RetryPolicy {
        first_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(100),
        max_attempts: 4,
        min_attempt_time: Duration::from_millis(100),
    };
    OktaClient::with_base_url(okta.base_url().parse().unwrap(), &SecretString::from(token))
        .unwrap()
        .with_budget(Duration::from_secs(5), policy)
}

/// The stack these tests provision for.
const STACK: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/okta-relay/1";

fn owner() -> Owner {
    Owner::new(STACK)
}

fn input(event_source_name: &str) -> SpecInput {
    serde_json::from_value(json!({
        "OrgUrl": "https://example.okta.com",
        "LogStreamName": "okta-relay",
        "EventSourceName": event_source_name,
        "AccountId": ACCOUNT,
        "Region": "us-east-1",
        "RuleName": "okta-relay",
        "EventPattern": {"detail": {"eventType": [{"prefix": "user.session."}]}},
        "TargetArn": format!("arn:aws:sqs:us-east-1:{ACCOUNT}:okta-relay-inbox"),
        "DeadLetterQueueArn": format!("arn:aws:sqs:us-east-1:{ACCOUNT}:relay-dlq"),
        "MaximumRetryAttempts": "8",
        "MaximumEventAgeInSeconds": "3600",
        "PartnerSourceWaitSeconds": "10"
    }))
    .unwrap()
}

impl World {
    async fn apply(&self, input: &SpecInput) -> Result<Provisioned, String> {
        let spec = input.validate().unwrap();
        apply(&spec, &owner(), &self.client, &self.buses, None)
            .await
            .map_err(|error| error.to_string())
    }

    async fn status(&self, input: &SpecInput) -> Status {
        let spec = input.validate().unwrap();
        status(&spec, &self.client, &self.buses).await.unwrap()
    }

    fn assert_contract_kept(&self) {
        assert_eq!(self.okta.violations(), Vec::<String>::new());
    }
}

fn names(changes: &[Change]) -> Vec<String> {
    changes.iter().map(ToString::to_string).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn creates_everything_then_converges_without_changes() {
    let world = world().await;
    let input = input("okta-relay");
    let first = world.apply(&input).await.unwrap();
    assert_eq!(first.changes.len(), 5, "{:?}", names(&first.changes));
    assert_eq!(
        first.partner_event_source,
        "aws.partner/okta.com/example/okta-relay"
    );
    assert!(
        first
            .event_bus_arn
            .ends_with(":event-bus/aws.partner/okta.com/example/okta-relay")
    );

    let streams = world.okta.streams();
    assert_eq!(streams.len(), 1);
    assert_eq!(streams[0].2, "ACTIVE");
    assert_eq!(streams[0].0, first.log_stream_id);

    let bus = "aws.partner/okta.com/example/okta-relay";
    let rule = world
        .eventbridge
        .describe_rule()
        .event_bus_name(bus)
        .name("okta-relay")
        .send()
        .await
        .unwrap();
    let pattern: serde_json::Value = serde_json::from_str(rule.event_pattern().unwrap()).unwrap();
    assert_eq!(
        pattern,
        json!({"detail": {"eventType": [{"prefix": "user.session."}]}})
    );
    let targets = world
        .eventbridge
        .list_targets_by_rule()
        .event_bus_name(bus)
        .rule("okta-relay")
        .send()
        .await
        .unwrap();
    let target = &targets.targets()[0];
    assert_eq!(
        target.arn(),
        format!("arn:aws:sqs:us-east-1:{ACCOUNT}:okta-relay-inbox")
    );
    assert_eq!(
        target.retry_policy().unwrap().maximum_retry_attempts(),
        Some(8)
    );
    assert_eq!(
        target
            .retry_policy()
            .unwrap()
            .maximum_event_age_in_seconds(),
        Some(3600)
    );
    assert_eq!(
        target.dead_letter_config().unwrap().arn(),
        Some(format!("arn:aws:sqs:us-east-1:{ACCOUNT}:relay-dlq").as_str())
    );

    let again = world.apply(&input).await.unwrap();
    assert_eq!(names(&again.changes), Vec::<String>::new());
    assert_eq!(again.log_stream_id, first.log_stream_id);
    assert_eq!(again.rule_arn, first.rule_arn);
    let status = world.status(&input).await;
    assert!(status.is_healthy(), "{:?}", status.problems);
    assert_eq!(status.partner_event_source_state.as_deref(), Some("ACTIVE"));
    world.assert_contract_kept();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_made_in_the_console_is_refused_then_adopted_with_adopt_existing() {
    let world = world().await;
    world.okta.set_max_page_size(2);
    for index in 0..5 {
        let settings = json!({"accountId": ACCOUNT, "eventSourceName": format!("other-{index}"), "region": "us-east-1"});
        world
            .okta
            .seed_stream(&format!("other {index}"), settings, true);
    }
    let ours =
        json!({"accountId": ACCOUNT, "eventSourceName": "okta-relay", "region": "us-east-1"});
    let id = world.okta.seed_stream("made in the console", ours, false);
    world
        .eventbridge
        .create_partner_event_source()
        .name("aws.partner/okta.com/example/okta-relay")
        .account(ACCOUNT)
        .send()
        .await
        .unwrap();

    let refused = world.apply(&input("okta-relay")).await.unwrap_err();
    assert!(
        refused.starts_with(&format!(
            "Okta log stream `made in the console` ({id}) already belong to no owner okta-relay knows"
        )),
        "{refused}"
    );
    assert!(refused.contains("AdoptExisting=true"), "{refused}");
    let adopting = SpecInput {
        adopt_existing: Some(true),
        ..input("okta-relay")
    };
    let adopted = world.apply(&adopting).await.unwrap();
    assert_eq!(adopted.log_stream_id, id);
    assert_eq!(
        names(&adopted.changes)[..2],
        [
            format!("rename Okta log stream {id} from `made in the console` to `okta-relay`"),
            format!("activate Okta log stream `okta-relay` ({id})"),
        ]
    );
    assert_eq!(world.okta.streams().len(), 6);
    let lists = world
        .okta
        .requests()
        .iter()
        .filter(|r| r.operation == "listLogStreams")
        .count();
    assert_eq!(
        lists, 6,
        "two applies, each reading three pages of two streams"
    );
    world.assert_contract_kept();
}

#[tokio::test(flavor = "multi_thread")]
async fn updates_name_pattern_and_target_in_place() {
    let world = world().await;
    let first = world.apply(&input("okta-relay")).await.unwrap();
    let mut changed = input("okta-relay");
    changed.log_stream_name = "okta-relay renamed".into();
    changed.event_pattern = json!({"detail": {"eventType": ["user.account.lock"]}});
    changed.maximum_retry_attempts = Some(2);
    let updated = world.apply(&changed).await.unwrap();
    assert_eq!(updated.log_stream_id, first.log_stream_id);
    assert_eq!(
        names(&updated.changes),
        [
            format!(
                "rename Okta log stream {} from `okta-relay` to `okta-relay renamed`",
                first.log_stream_id
            ),
            "update rule `okta-relay` (pattern, description or state)".to_string(),
            format!(
                "set target `okta-relay` of rule `okta-relay` to arn:aws:sqs:us-east-1:{ACCOUNT}:okta-relay-inbox"
            ),
        ]
    );
    assert_eq!(world.okta.streams()[0].1, "okta-relay renamed");
    world.assert_contract_kept();
}

#[tokio::test(flavor = "multi_thread")]
async fn replacing_a_write_once_setting_frees_the_name_then_the_old_one_is_deleted() {
    let world = world().await;
    let old_input = input("okta-relay");
    let old = world.apply(&old_input).await.unwrap();
    let new_input = input("okta-relay-v2");
    let refused = world.apply(&new_input).await.unwrap_err();
    assert!(
        refused.contains("already holds the name `okta-relay`"),
        "{refused}"
    );

    let old_settings = old_input.validate().unwrap().settings;
    let spec = new_input.validate().unwrap();
    let new = apply(
        &spec,
        &owner(),
        &world.client,
        &world.buses,
        Some(&old_settings),
    )
    .await
    .unwrap();
    assert_ne!(new.log_stream_id, old.log_stream_id);
    let names_now: Vec<String> = world.okta.streams().into_iter().map(|s| s.1).collect();
    assert_eq!(names_now, ["okta-relay (replaced)", "okta-relay"]);

    let removed = destroy(
        &old_input.validate().unwrap(),
        &owner(),
        &world.client,
        &world.buses,
    )
    .await
    .unwrap();
    assert_eq!(removed.len(), 5, "{:?}", names(&removed));
    let left = world.okta.streams();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].0, new.log_stream_id);
    assert!(world.status(&new_input).await.is_healthy());
    world.assert_contract_kept();
}

#[tokio::test(flavor = "multi_thread")]
async fn at_the_two_stream_limit_a_replacement_goes_old_first_and_a_third_stream_is_refused() {
    let world = world().await;
    let old_input = input("okta-relay");
    world.apply(&old_input).await.unwrap();
    world.okta.seed_splunk_stream("siem");

    // A replacement at the limit deletes the old stream before creating the new one.
    let old_settings = old_input.validate().unwrap().settings;
    let new_input = input("okta-relay-v2");
    let spec = new_input.validate().unwrap();
    let new = apply(
        &spec,
        &owner(),
        &world.client,
        &world.buses,
        Some(&old_settings),
    )
    .await
    .unwrap();
    let names_of =
        |world: &World| -> Vec<String> { world.okta.streams().into_iter().map(|s| s.1).collect() };
    assert_eq!(names_of(&world), ["siem", "okta-relay"]);
    assert!(
        names(&new.changes)[..3]
            .iter()
            .zip([
                "deactivate Okta log stream",
                "delete Okta log stream",
                "create Okta log stream"
            ])
            .all(|(change, start)| change.starts_with(start)),
        "{:?}",
        names(&new.changes)
    );
    // CloudFormation's Delete of the old resource then finds its stream gone and converges.
    destroy(
        &old_input.validate().unwrap(),
        &owner(),
        &world.client,
        &world.buses,
    )
    .await
    .unwrap();
    assert_eq!(names_of(&world), ["siem", "okta-relay"]);

    // Another stack's stream at the limit: refused before anything is made, the streams named.
    let mut other = input("another");
    other.log_stream_name = "another".into();
    let refused = world.apply(&other).await.unwrap_err();
    assert!(
        refused.starts_with("Okta allows two log streams per org, and this org has them: `siem` (splunk_cloud_logstreaming"),
        "{refused}"
    );
    assert!(
        refused.contains("`okta-relay` (aws_eventbridge"),
        "{refused}"
    );
    assert_eq!(
        names_of(&world),
        ["siem", "okta-relay"],
        "nothing was changed"
    );
    world.assert_contract_kept();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_name_held_by_a_stream_of_another_type_is_refused_before_anything_is_made() {
    let world = world().await;
    let held = world.okta.seed_splunk_stream("okta-relay");
    let refused = world.apply(&input("okta-relay")).await.unwrap_err();
    assert!(
        refused.contains(&format!(
            "Okta log stream {held} already holds the name `okta-relay`"
        )),
        "{refused}"
    );
    assert_eq!(world.okta.streams().len(), 1);
    world.assert_contract_kept();
}

#[tokio::test(flavor = "multi_thread")]
async fn destroys_everything_and_destroying_again_succeeds() {
    let world = world().await;
    let input = input("okta-relay");
    world.apply(&input).await.unwrap();
    let spec = input.validate().unwrap();
    let removed = destroy(&spec, &owner(), &world.client, &world.buses)
        .await
        .unwrap();
    assert_eq!(
        names(&removed)[..3],
        [
            "remove targets okta-relay from rule `okta-relay`",
            "delete rule `okta-relay`",
            "delete event bus aws.partner/okta.com/example/okta-relay",
        ]
    );
    assert!(world.okta.streams().is_empty());
    let bus = world
        .eventbridge
        .describe_event_bus()
        .name("aws.partner/okta.com/example/okta-relay")
        .send()
        .await;
    assert!(bus.is_err(), "the bus is gone");
    assert_eq!(
        destroy(&spec, &owner(), &world.client, &world.buses)
            .await
            .unwrap(),
        []
    );
    let status = world.status(&input).await;
    assert!(
        status
            .problems
            .iter()
            .any(|p| p.contains("no Okta log stream")),
        "{:?}",
        status.problems
    );
    world.assert_contract_kept();
}

#[tokio::test(flavor = "multi_thread")]
async fn status_says_when_okta_deactivated_the_stream_and_apply_reactivates_it() {
    let world = world().await;
    let input = input("okta-relay");
    world.apply(&input).await.unwrap();
    world.okta.deactivate_out_of_band("okta-relay");
    let status = world.status(&input).await;
    assert!(
        status
            .problems
            .iter()
            .any(|p| p.starts_with("Okta has deactivated log stream `okta-relay`")),
        "{:?}",
        status.problems
    );
    let repaired = world.apply(&input).await.unwrap();
    assert_eq!(names(&repaired.changes).len(), 1);
    assert!(world.status(&input).await.is_healthy());
    world.assert_contract_kept();
}

#[tokio::test(flavor = "multi_thread")]
async fn status_names_the_person_who_deactivated_the_stream_and_apply_turns_it_back_on() {
    let world = world().await;
    let input = input("okta-relay");
    world.apply(&input).await.unwrap();
    let at = chrono::Utc::now() - chrono::Duration::minutes(7);
    world
        .okta
        .admin_deactivates("okta-relay", "jane@acme.com", at);
    let status = world.status(&input).await;
    let by = status.deactivated.clone().unwrap();
    assert_eq!(
        (by.by.is_okta(), by.published.timestamp()),
        (false, at.timestamp())
    );
    assert!(
        status
            .problems
            .iter()
            .any(|p| p.contains("deactivated by Jane Admin <jane@acme.com>")
                && p.contains("the watchdog leaves a person's decision alone")),
        "{:?}",
        status.problems
    );
    // The operator's explicit command turns it back on.
    world.apply(&input).await.unwrap();
    assert!(world.status(&input).await.is_healthy());
    world.assert_contract_kept();
}

#[tokio::test(flavor = "multi_thread")]
async fn okta_errors_fail_with_what_to_do_and_never_the_token() {
    let world = world().await;
    let input = input("okta-relay");
    let cases: Vec<(Option<Fault>, Option<&str>, &str)> = vec![
        (
            Some(Fault::status("createLogStream", 400, 1)),
            None,
            "Okta rejected POST /api/v1/logStreams with 400",
        ),
        (
            None,
            Some("wrong-token"),
            "Okta returned 401 to GET /api/v1/logStreams (E0000011: Invalid token provided",
        ),
        (
            Some(Fault::status("createLogStream", 403, 1)),
            None,
            "lacks okta.logStreams.manage",
        ),
        (
            Some(Fault::rate_limited("listLogStreams", 60, 1)),
            None,
            "kept answering 429",
        ),
        (
            Some(Fault::status("createLogStream", 500, 4)),
            None,
            "Okta returned 500 to POST /api/v1/logStreams after 4 attempts",
        ),
    ];
    for (fault, token, expected) in cases {
        let client = okta_client(&world.okta, token.unwrap_or(TOKEN));
        if let Some(fault) = fault {
            world.okta.inject(fault);
        }
        let spec = input.validate().unwrap();
        let error = apply(&spec, &owner(), &client, &world.buses, None)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            error.contains(expected),
            "expected `{expected}` in: {error}"
        );
        assert!(
            !error.contains(TOKEN) && !error.contains("wrong-token"),
            "{error}"
        );
        assert!(world.okta.streams().is_empty());
    }
    world.assert_contract_kept();
}

#[tokio::test(flavor = "multi_thread")]
async fn transient_okta_errors_and_short_rate_limits_are_retried() {
    let world = world().await;
    world
        .okta
        .inject(Fault::rate_limited("listLogStreams", 1, 1));
    world.okta.inject(Fault::status("createLogStream", 503, 2));
    let provisioned = world.apply(&input("okta-relay")).await.unwrap();
    assert_eq!(world.okta.streams().len(), 1);
    assert_eq!(world.okta.streams()[0].0, provisioned.log_stream_id);
    let statuses: Vec<u16> = world.okta.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses[..4], [429, 200, 503, 503]);
    world.assert_contract_kept();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_partner_source_that_never_appears_fails_after_the_bounded_wait() {
    let world = world().await;
    world.okta.set_partner_sources(PartnerSources::Never);
    let mut input = input("okta-relay");
    input.partner_source_wait_seconds = Some(2);
    let error = world.apply(&input).await.unwrap_err();
    assert!(
        error.starts_with("partner event source aws.partner/okta.com/example/okta-relay did not appear in EventBridge within 2s"),
        "{error}"
    );
    assert!(
        error.contains("not found") && error.contains("AccountId and Region"),
        "{error}"
    );
    world.assert_contract_kept();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_that_vanishes_midway_fails_with_404_and_a_retry_converges() {
    let world = world().await;
    let ours =
        json!({"accountId": ACCOUNT, "eventSourceName": "okta-relay", "region": "us-east-1"});
    let id = world.okta.seed_stream("okta-relay", ours, false);
    // Made outside any stack: taken over explicitly.
    let input = |name: &str| SpecInput {
        adopt_existing: Some(true),
        ..input(name)
    };
    world
        .okta
        .inject(Fault::status("activateLogStream", 404, 1));
    let error = world.apply(&input("okta-relay")).await.unwrap_err();
    assert!(
        error.starts_with(&format!(
            "activate Okta log stream `okta-relay` ({id}): Okta returned 404 to POST /api/v1/logStreams/{id}/lifecycle/activate"
        )),
        "{error}"
    );
    world
        .eventbridge
        .create_partner_event_source()
        .name("aws.partner/okta.com/example/okta-relay")
        .account(ACCOUNT)
        .send()
        .await
        .unwrap();
    let converged = world.apply(&input("okta-relay")).await.unwrap();
    assert_eq!(converged.log_stream_id, id);
    world.assert_contract_kept();
}

impl World {
    /// The partner bus's owner tag.
    async fn bus_owner(&self, source: &str) -> Option<String> {
        okta_relay_e2e::moto::bus_owner(&self.eventbridge, source)
            .await
            .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_stack_with_the_same_names_is_refused_and_its_delete_leaves_the_first_s_stream() {
    let world = world().await;
    let source = "aws.partner/okta.com/example/okta-relay";
    let first = world.apply(&input("okta-relay")).await.unwrap();
    assert_eq!(world.bus_owner(source).await.as_deref(), Some(STACK));

    let second = Owner::new("arn:aws:cloudformation:us-east-1:123456789012:stack/second/2");
    let spec = input("okta-relay").validate().unwrap();
    let refused = apply(&spec, &second, &world.client, &world.buses, None)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        refused.starts_with(&format!(
            "Okta log stream `okta-relay` ({}) and event bus {source} already belong to `{STACK}`",
            first.log_stream_id
        )),
        "{refused}"
    );
    assert!(refused.ends_with("nothing was changed"), "{refused}");
    // CloudFormation rolls the second stack back: its Delete must leave the first's alone.
    let left = destroy(&spec, &second, &world.client, &world.buses)
        .await
        .unwrap();
    assert_eq!(
        names(&left),
        [format!(
            "leave Okta log stream `okta-relay` ({}) and event bus {source} in place: it belongs to `{STACK}`",
            first.log_stream_id
        )]
    );
    assert_eq!(world.okta.streams().len(), 1);
    assert_eq!(world.bus_owner(source).await.as_deref(), Some(STACK));
    let status = world.status(&input("okta-relay")).await;
    assert_eq!(status.owner.as_deref(), Some(STACK));
    assert!(status.is_healthy(), "{:?}", status.problems);

    // Taken over explicitly: the second owns it now, and the first's Delete leaves it.
    let adopting = SpecInput {
        adopt_existing: Some(true),
        ..input("okta-relay")
    };
    let taken = apply(
        &adopting.validate().unwrap(),
        &second,
        &world.client,
        &world.buses,
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        names(&taken.changes),
        [format!("take event bus {source} over from `{STACK}`")]
    );
    assert_eq!(world.bus_owner(source).await, Some(second.id.clone()));
    let left = destroy(&spec, &owner(), &world.client, &world.buses)
        .await
        .unwrap();
    assert!(names(&left)[0].starts_with("leave "), "{:?}", names(&left));
    assert_eq!(world.okta.streams().len(), 1);
    world.assert_contract_kept();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stack_from_before_the_owner_tag_claims_its_bus_by_cloudformation_s_record() {
    let world = world().await;
    let source = "aws.partner/okta.com/example/okta-relay";
    let settings =
        json!({"accountId": ACCOUNT, "eventSourceName": "okta-relay", "region": "us-east-1"});
    let id = world.okta.seed_stream("okta-relay", settings, true);
    world
        .eventbridge
        .create_partner_event_source()
        .name(source)
        .account(ACCOUNT)
        .send()
        .await
        .unwrap();
    world
        .eventbridge
        .create_event_bus()
        .name(source)
        .event_source_name(source)
        .send()
        .await
        .unwrap();
    let spec = input("okta-relay").validate().unwrap();
    let error = apply(&spec, &owner(), &world.client, &world.buses, None)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("already belong to no owner okta-relay knows"),
        "{error}"
    );

    let recorded = Owner {
        recorded_stream_id: Some(id),
        ..owner()
    };
    let claimed = apply(&spec, &recorded, &world.client, &world.buses, None)
        .await
        .unwrap();
    assert_eq!(
        names(&claimed.changes)[0],
        format!("tag event bus {source} with its owner")
    );
    assert_eq!(world.bus_owner(source).await.as_deref(), Some(STACK));
    let again = apply(&spec, &owner(), &world.client, &world.buses, None)
        .await
        .unwrap();
    assert_eq!(
        names(&again.changes),
        Vec::<String>::new(),
        "tagged: ours by the tag now"
    );
}
