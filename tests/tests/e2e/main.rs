#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

//! The product end to end: the **release** relay and provisioner binaries, run as Lambda runs
//! them (separate processes speaking the Runtime API), against moto (SSM, SQS, EventBridge), the
//! fake Okta and a fault-injecting Workflows endpoint. Each scenario prints one summary line.
//!
//! Events reach the relay as deployed: through the inbox (moto's SQS, with the template's
//! visibility timeout and redrive policy) and Lambda's event source mapping, played by
//! `okta_relay_e2e::event_source_mapping` as Lambda documents it. EventBridge's rule is played by
//! the test: an event goes in the inbox only if moto's `TestEventPattern` says the provisioned
//! rule matches it.
//!
//! One module per scenario, named for what it proves; [`world`] holds what they share (the
//! relay and provisioner as processes, the routes, the samples, the secrets to look for).

mod bad_input_is_dead_lettered;
mod burst_is_paced_to_the_flow_limits;
mod mixed_faults_lose_nothing;
mod oauth_everywhere;
mod outage_is_backfilled_once;
mod provision_deliver_tear_down;
mod routes_change_after_ttl;
mod stream_life_as_okta_and_aws_behave;
mod world;
