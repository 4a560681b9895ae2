//! `okta-relay replay` and `okta-relay sink`, as real processes: dry-run output, delivery to a
//! local sink, dead letters, and errors that name the broken route.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use serde_json::{Value, json};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
const TOKEN: &str = "replay-test-token-5d1e";

fn okta_relay(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_okta-relay"))
        .args(args)
        .current_dir(ROOT)
        .env("DEMO_WORKFLOWS_TOKEN", TOKEN)
        .output()
        .unwrap()
}

fn json_lines(text: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(text)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// A running `okta-relay sink` on a free port, stopped on drop.
struct Sink {
    child: Child,
    port: u16,
}

impl Sink {
    fn start(record: &Path, extra: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_okta-relay"))
            .args([
                "sink",
                "--listen",
                "127.0.0.1:0",
                "--record",
                record.to_str().unwrap(),
            ])
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut first)
            .unwrap();
        let port = first.trim().rsplit(':').next().unwrap().parse().unwrap();
        Self { child, port }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn demo_routes(dir: &Path, port: u16) -> String {
    let text = std::fs::read_to_string(Path::new(ROOT).join("samples/routes.demo.json")).unwrap();
    let path = dir.join("routes.json");
    std::fs::write(&path, text.replace("{{PORT}}", &port.to_string())).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn dry_run_prints_one_payload_per_matching_route_and_sends_nothing() {
    let out = okta_relay(&[
        "replay",
        "--routes",
        "infra/routes.example.json",
        "--dry-run",
        "samples/eventbridge-events.jsonl",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(&out.stdout);
    let routes: Vec<&str> = lines
        .iter()
        .map(|line| line["route"].as_str().unwrap())
        .collect();
    assert_eq!(
        routes
            .iter()
            .filter(|route| **route == "security-alerts")
            .count(),
        4,
        "{routes:?}"
    );
    assert_eq!(
        routes
            .iter()
            .filter(|route| **route == "identity-lifecycle")
            .count(),
        2,
        "{routes:?}"
    );
    let trimmed = lines
        .iter()
        .find(|line| line["route"] == "identity-lifecycle")
        .unwrap();
    let event_keys: Vec<&String> = trimmed["payload"]["event"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(
        event_keys,
        ["eventType", "target", "uuid"],
        "fields keep only what the route lists"
    );
    assert_eq!(trimmed["payload"]["relay"]["route"], "identity-lifecycle");
}

#[test]
fn raw_okta_events_are_wrapped_and_enriched_with_the_given_org() {
    let out = okta_relay(&[
        "replay",
        "--routes",
        "infra/routes.example.json",
        "--dry-run",
        "--org-url",
        "https://acme.okta.com",
        "samples/okta-events.jsonl",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let first = &json_lines(&out.stdout)[0];
    assert_eq!(first["payload"]["relay"]["orgHost"], "acme.okta.com");
    assert_eq!(
        first["payload"]["relay"]["eventbridge"]["source"],
        "okta-relay.replay"
    );
}

#[test]
fn delivers_to_a_local_sink_and_dead_letters_what_fails() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("received.jsonl");
    let sink = Sink::start(&record, &["--fail", "/api/flo/token-audit/invoke=400"]);
    let dead_letters = dir.path().join("dead.jsonl");
    let events = dir.path().join("events.jsonl");
    let samples =
        std::fs::read_to_string(Path::new(ROOT).join("samples/eventbridge-events.jsonl")).unwrap();
    std::fs::write(&events, format!("{samples}not json\n")).unwrap();

    let routes = demo_routes(dir.path(), sink.port);
    let out = okta_relay(&[
        "replay",
        "--routes",
        &routes,
        "--allow-http-localhost",
        "--dead-letters",
        dead_letters.to_str().unwrap(),
        events.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "exit 1 when anything was dead-lettered"
    );
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(
        summary.contains(
            "events 11 · matched 8 · filtered out 2 · bad input 1 · delivered 6 · dead-lettered 3"
        ),
        "{summary}"
    );

    // The same summary for a script: one JSON document on stdout.
    let again = okta_relay(&[
        "replay",
        "--routes",
        &routes,
        "--allow-http-localhost",
        "--dead-letters",
        dir.path().join("dead-again.jsonl").to_str().unwrap(),
        "--output",
        "json",
        events.to_str().unwrap(),
    ]);
    let summary: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(
        (
            &summary["events"],
            &summary["delivered"],
            &summary["deadLettered"]
        ),
        (&json!(11), &json!(6), &json!(3)),
        "{summary}"
    );
    let token_audit = summary["routes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["route"] == "token-audit")
        .unwrap();
    assert_eq!(token_audit["deadLettered"], 2, "{summary}");

    let received = json_lines(&std::fs::read(&record).unwrap());
    assert_eq!(
        received
            .iter()
            .filter(|request| request["status"] == 200)
            .count(),
        12,
        "two runs"
    );
    assert!(
        received
            .iter()
            .all(|request| request["clientTokenPresent"] == true)
    );
    let letters = json_lines(&std::fs::read(&dead_letters).unwrap());
    let kinds: Vec<&str> = letters
        .iter()
        .map(|letter| letter["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["delivery_failed", "delivery_failed", "bad_input"]);
    assert_eq!(letters[0]["lastStatus"], 400);
    assert_eq!(letters[0]["attempts"], 1, "a 400 is not retried");
    assert!(
        letters[2]["reason"]
            .as_str()
            .unwrap()
            .starts_with("payload is not JSON")
    );
    let everything = format!(
        "{summary}{}{}",
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(&dead_letters).unwrap()
    );
    assert!(!everything.contains(TOKEN), "the client token leaked");
}

#[test]
fn invalid_routes_name_the_route_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let routes = demo_routes(dir.path(), 9);
    let out = okta_relay(&[
        "replay",
        "--routes",
        &routes,
        "--dry-run",
        "samples/eventbridge-events.jsonl",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "route `security-alerts` (routes[0]).endpoint: plain http is only for local runs"
        ),
        "{stderr}"
    );
}

#[tokio::test]
async fn ssm_flag_reads_token_parameters_and_without_it_they_are_dead_lettered() {
    let moto = okta_relay_e2e::moto::MotoServer::start().unwrap();
    let ssm = aws_sdk_ssm::Client::new(&moto.sdk_config().await);
    ssm.put_parameter()
        .name("/okta-relay/workflows/demo")
        .value(TOKEN)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("received.jsonl");
    let sink = Sink::start(&record, &[]);
    let routes = dir.path().join("routes.json");
    let table = serde_json::json!({"version": 1, "routes": [{
        "name": "from-ssm", "pattern": {"detail": {"eventType": ["user.lifecycle.create"]}},
        "endpoint": format!("http://127.0.0.1:{}/api/flo/ssm/invoke", sink.port),
        "auth": {"tokenParameter": "/okta-relay/workflows/demo"}
    }]});
    std::fs::write(&routes, table.to_string()).unwrap();
    let dead_letters = dir.path().join("dead.jsonl");
    let replay = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_okta-relay"))
            .args([
                "replay",
                "--routes",
                routes.to_str().unwrap(),
                "--allow-http-localhost",
            ])
            .args(["--dead-letters", dead_letters.to_str().unwrap()])
            .args(extra)
            .arg("samples/eventbridge-events.jsonl")
            .current_dir(ROOT)
            .envs(moto.process_env())
            .output()
            .unwrap()
    };

    let out = replay(&["--ssm"]);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let received = json_lines(&std::fs::read(&record).unwrap());
    assert_eq!(received.len(), 1);
    assert_eq!(received[0]["clientTokenPresent"], true);

    let out = replay(&[]);
    assert_eq!(out.status.code(), Some(1));
    let letters = json_lines(&std::fs::read(&dead_letters).unwrap());
    let reason = letters[0]["reason"].as_str().unwrap();
    assert_eq!(
        reason,
        "client token SSM parameter /okta-relay/workflows/demo is not available here; this run reads tokens from environment variables"
    );
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!output.contains(TOKEN));
}
