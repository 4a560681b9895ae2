//! Shared harness for the end-to-end suite, the adapters' tests and the Lambda benchmarks: real
//! protocol peers on 127.0.0.1, each started on a free port and stopped when dropped.
//!
//! - [`authorization_server`]: Okta's org authorization server (client credentials with
//!   `private_key_jwt`, DPoP), shared by the fake Okta and the fake Workflows.
//! - [`moto`]: moto's server (EventBridge, SSM, SQS).
//! - [`fake_okta`]: Okta's Log Streams API, checked against Okta's OpenAPI ([`okta_contract`]).
//! - [`runtime_api`]: the Lambda Runtime API, to run the release function binaries.
//! - [`workflows`]: a Workflows API endpoint that records requests, enforces per-flow rate limits,
//!   runs flows synchronously and injects faults by script.
//! - [`event_source_mapping`]: Lambda's SQS event source mapping, between moto's SQS and a
//!   Runtime API.
//! - [`response_url`]: CloudFormation's pre-signed ResponseURL.
//! - [`functions`]: the release function binaries as processes.
//! - [`endpoint`]: an HTTP endpoint that counts connections.
//! - [`hostile`]: a raw HTTP peer that answers anything a script says (redirects, absurd
//!   headers, huge or slow bodies, garbage), for the hostile-peer suite.
//! - [`command`]: the operator CLI as a process, its output checked for secrets.
//! - [`system_log`]: System Log events with known uuids and times, for the fake Okta to serve.

pub mod authorization_server;
pub mod command;
pub mod endpoint;
pub mod event_source_mapping;
pub mod fake_okta;
pub mod functions;
pub mod hostile;
pub mod moto;
pub mod okta_contract;
pub mod response_url;
pub mod runtime_api;
pub mod serve;
pub mod system_log;
pub mod workflows;

/// Prints a suite's summary line and appends it to `target/e2e-summary.txt`, which `make test`
/// shows after the run (cargo hides a passing test's output).
pub fn report(line: String) {
    println!("{line}");
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    // target/<profile>/deps/<test binary>
    let Some(target) = exe.ancestors().nth(3) else {
        return;
    };
    use std::io::Write;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(target.join("e2e-summary.txt"));
    if let Ok(mut file) = file {
        let _ = writeln!(file, "{line}");
    }
}
