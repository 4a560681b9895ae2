//! `make bench`'s Lambda measurements (issue 8), on the release binaries speaking the Runtime API:
//! cold start (process spawn → first `next`) for the relay, the provisioner and a minimal
//! `lambda_runtime` baseline; the relay's first invocation (deferred AWS set-up); warm overhead
//! over 10,000 invocations against the same request made directly with reqwest; connections
//! opened to the endpoint; peak RSS; the same invocations with de-duplication on (the idempotency
//! table in moto), for new events and for duplicates. Writes a markdown fragment that
//! `scripts/bench-report.py` puts into docs/PERFORMANCE.md.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // bench code: a failure aborts the run

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use okta_relay_e2e::endpoint::CountingEndpoint;
use okta_relay_e2e::moto::MotoServer;
use okta_relay_e2e::runtime_api::{Outcome, RuntimeApi};
use serde_json::json;

const SPAWNS: usize = 30;
const INVOCATIONS: usize = 10_000;
/// Invocations with de-duplication on: each one's store calls go to moto, a Python server.
const DEDUP_INVOCATIONS: usize = 2_000;
const DEDUP_TABLE: &str = "bench-dedup";
const ROUTES_PARAMETER: &str = "/okta-relay/bench/routes";
const SAMPLE: &str = include_str!("../../samples/eventbridge-events.jsonl");

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

fn binary(name: &str) -> PathBuf {
    let path = target_dir().join("release").join(name);
    assert!(
        path.exists(),
        "{} is missing: `make bench` builds the release binaries first",
        path.display()
    );
    path
}

struct Peers {
    moto: MotoServer,
    queue_url: String,
}

async fn peers(endpoint: &CountingEndpoint) -> Peers {
    let moto = MotoServer::start().unwrap();
    let sdk = moto.sdk_config().await;
    let routes = json!({"version": 1, "routes": [{
        "name": "bench", "pattern": {"detail": {"uuid": [{"exists": true}]}},
        "endpoint": endpoint.url("/api/flo/bench/invoke"), "auth": {"scheme": "none"}
    }]});
    aws_sdk_ssm::Client::new(&sdk)
        .put_parameter()
        .name(ROUTES_PARAMETER)
        .value(routes.to_string())
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .send()
        .await
        .unwrap();
    let queue_url = okta_relay_e2e::moto::create_queue(&sdk, "bench-dlq")
        .await
        .unwrap();
    Peers { queue_url, moto }
}

fn spawn(name: &str, api: &RuntimeApi, peers: &Peers) -> Child {
    spawn_with(name, api, peers, "")
}

/// `dedup_table`: the idempotency table, or empty for de-duplication off.
fn spawn_with(name: &str, api: &RuntimeApi, peers: &Peers, dedup_table: &str) -> Child {
    Command::new(binary(name))
        .env("DEDUP_TABLE", dedup_table)
        .envs(api.lambda_env(name))
        .env("AWS_ENDPOINT_URL", peers.moto.endpoint())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("ROUTES_PARAMETER", ROUTES_PARAMETER)
        .env("DEAD_LETTER_QUEUE_URL", &peers.queue_url)
        // Nothing is requeued in these runs (every delivery succeeds): the DLQ stands in.
        .env("INBOX_QUEUE_URL", &peers.queue_url)
        .env("ALLOW_HTTP_LOCALHOST", "true")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

async fn cold_starts(name: &str, peers: &Peers) -> Vec<Duration> {
    let mut times = Vec::with_capacity(SPAWNS);
    for _ in 0..SPAWNS {
        // A fresh Runtime API per spawn: a killed process leaves its `next` waiting.
        let api = RuntimeApi::start().await.unwrap();
        let spawned = Instant::now();
        let child = spawn(name, &api, peers);
        let first = loop {
            if let Some(first) = api.first_next() {
                break first;
            }
            assert!(
                spawned.elapsed() < Duration::from_secs(10),
                "{name} never asked for an event"
            );
            tokio::time::sleep(Duration::from_micros(200)).await;
        };
        times.push(first - spawned);
        stop(child);
    }
    times.sort();
    times
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * fraction).round() as usize]
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn ms(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}

fn us(duration: Duration) -> String {
    format!("{:.0} µs", duration.as_secs_f64() * 1e6)
}

#[tokio::main]
async fn main() {
    let endpoint = CountingEndpoint::start().await.unwrap();
    let peers = peers(&endpoint).await;
    let mut report = String::new();

    let names = ["baseline-lambda", "relay", "provisioner"];
    let mut cold = Vec::new();
    for name in names {
        cold.push((name, cold_starts(name, &peers).await));
    }
    let baseline = percentile(&cold[0].1, 0.5);
    writeln!(
        report,
        "Cold start: process spawn → first Runtime API `next`, {SPAWNS} spawns each.\n"
    )
    .unwrap();
    writeln!(
        report,
        "| binary | stripped size | median | p90 | median / baseline |"
    )
    .unwrap();
    writeln!(report, "| --- | ---: | ---: | ---: | ---: |").unwrap();
    for (name, times) in &cold {
        let size = std::fs::metadata(binary(name))
            .map(|meta| meta.len())
            .unwrap_or(0);
        let median = percentile(times, 0.5);
        writeln!(
            report,
            "| `{name}` | {:.2} MB | {} | {} | {:.2}x |",
            size as f64 / 1e6,
            ms(median),
            ms(percentile(times, 0.9)),
            median.as_secs_f64() / baseline.as_secs_f64()
        )
        .unwrap();
    }

    // Warm: one relay process, many invocations.
    let raw = SAMPLE.lines().nth(1).unwrap().as_bytes().to_vec();
    let event = sqs_event(std::slice::from_ref(&raw));
    let api = RuntimeApi::start().await.unwrap();
    let relay = spawn("relay", &api, &peers);
    let started = Instant::now();
    let first = api.invoke(event.clone(), Duration::from_secs(30)).await;
    let first_invocation = started.elapsed();
    assert!(
        matches!(first, Outcome::Response(_)),
        "first invocation failed: {first:?}"
    );
    let mut relayed = Vec::with_capacity(INVOCATIONS);
    for _ in 0..INVOCATIONS {
        let started = Instant::now();
        let outcome = api.invoke(event.clone(), Duration::from_secs(30)).await;
        relayed.push(started.elapsed());
        assert!(
            matches!(outcome, Outcome::Response(_)),
            "invocation failed: {outcome:?}"
        );
    }
    let rss_kib = peak_rss_kib(relay.id());
    stop(relay);
    let connections = endpoint.connections();
    let opened_after = endpoint.opened_after();
    let delivered = endpoint.requests();

    // The same request, made directly.
    let client = reqwest::Client::builder()
        .tcp_nodelay(true)
        .build()
        .unwrap();
    let url = endpoint.url("/api/flo/bench/invoke");
    let mut direct = Vec::with_capacity(INVOCATIONS);
    for _ in 0..INVOCATIONS {
        let started = Instant::now();
        let response = client
            .post(&url)
            .header("content-type", "application/json")
            .body(event.clone())
            .send()
            .await
            .unwrap();
        let _ = response.bytes().await;
        direct.push(started.elapsed());
    }
    relayed.sort();
    direct.sort();
    let warm_median = percentile(&relayed, 0.5);

    writeln!(report, "\nDeferred set-up: the relay's first invocation (AWS config, SSM route fetch from moto, first").unwrap();
    writeln!(
        report,
        "connection to the endpoint) took {}, against a warm median of {}.\n",
        ms(first_invocation),
        ms(warm_median)
    )
    .unwrap();
    writeln!(report, "Warm: {INVOCATIONS} invocations of a 2.7 KB event, one matching route, endpoint answering at once.\n").unwrap();
    writeln!(report, "| | p50 | p99 |").unwrap();
    writeln!(report, "| --- | ---: | ---: |").unwrap();
    writeln!(
        report,
        "| relay, invoke → response through the Runtime API | {} | {} |",
        us(percentile(&relayed, 0.5)),
        us(percentile(&relayed, 0.99))
    )
    .unwrap();
    writeln!(
        report,
        "| the same POST made directly with reqwest | {} | {} |",
        us(percentile(&direct, 0.5)),
        us(percentile(&direct, 0.99))
    )
    .unwrap();
    let overhead =
        |fraction| percentile(&relayed, fraction).saturating_sub(percentile(&direct, fraction));
    writeln!(
        report,
        "| **overhead** | **{}** | **{}** |",
        us(overhead(0.5)),
        us(overhead(0.99))
    )
    .unwrap();
    writeln!(
        report,
        "\nTCP connections the endpoint accepted from the relay over {} deliveries: **{connections}** \
         (opened after {opened_after:?} requests). Peak RSS of the relay process: **{:.1} MB**.",
        delivered,
        rss_kib as f64 / 1024.0
    )
    .unwrap();

    dedup(&peers, &raw, &relayed, &mut report).await;

    let out = target_dir().join("lambda-bench.md");
    std::fs::write(&out, &report).unwrap();
    println!("{report}\nwritten to {}", out.display());
}

/// Times `DEDUP_INVOCATIONS` invocations with de-duplication on: each event new (a claim and a
/// completion per delivery), then each event again (a claim that finds it delivered; nothing
/// sent). Compared with de-duplication off (`off`, sorted), measured in the same run.
async fn dedup(peers: &Peers, event: &[u8], off: &[Duration], report: &mut String) {
    okta_relay_e2e::moto::create_dedup_table(&peers.moto.sdk_config().await, DEDUP_TABLE)
        .await
        .unwrap();
    let api = RuntimeApi::start().await.unwrap();
    let relay = spawn_with("relay", &api, peers, DEDUP_TABLE);
    let mut template: serde_json::Value = serde_json::from_slice(event).unwrap();
    let events: Vec<Vec<u8>> = (0..DEDUP_INVOCATIONS)
        .map(|index| {
            template["detail"]["uuid"] = json!(format!("bench-dedup-{index:06}"));
            sqs_event(&[template.to_string().into_bytes()])
        })
        .collect();
    let _ = api.invoke(events[0].clone(), Duration::from_secs(30)).await;
    let timed = |events: &[Vec<u8>]| {
        let api = &api;
        let events = events.to_vec();
        async move {
            let mut times = Vec::with_capacity(events.len());
            for event in events {
                let started = Instant::now();
                let outcome = api.invoke(event, Duration::from_secs(30)).await;
                times.push(started.elapsed());
                assert!(matches!(outcome, Outcome::Response(_)), "{outcome:?}");
            }
            times.sort();
            times
        }
    };
    let new = timed(&events[1..]).await;
    let duplicates = timed(&events[1..]).await;
    stop(relay);

    writeln!(report, "\nDe-duplication on (`DEDUP_TABLE`, the idempotency table in moto's DynamoDB on 127.0.0.1): {} new events, then the same again.\n", new.len()).unwrap();
    writeln!(
        report,
        "| relay, invoke → response | p50 | p99 | p50 / off |"
    )
    .unwrap();
    writeln!(report, "| --- | ---: | ---: | ---: |").unwrap();
    let off_p50 = percentile(off, 0.5);
    for (label, times) in [
        ("de-duplication off (above)", off),
        ("on, new event: claim, deliver, complete", &new[..]),
        (
            "on, duplicate: claim finds it delivered, nothing sent",
            &duplicates[..],
        ),
    ] {
        let p50 = percentile(times, 0.5);
        writeln!(
            report,
            "| {label} | {} | {} | {:.1}x |",
            us(p50),
            us(percentile(times, 0.99)),
            p50.as_secs_f64() / off_p50.as_secs_f64()
        )
        .unwrap();
    }
}

/// The event source mapping's invocation event for these inbox messages (bodies as sent).
fn sqs_event(bodies: &[Vec<u8>]) -> Vec<u8> {
    let records: Vec<serde_json::Value> = bodies
        .iter()
        .enumerate()
        .map(|(index, body)| {
            json!({
                "messageId": format!("bench-{index}"), "receiptHandle": "bench",
                "body": String::from_utf8_lossy(body),
                "attributes": {"ApproximateReceiveCount": "1",
                               "SentTimestamp": chrono::Utc::now().timestamp_millis().to_string()},
                "messageAttributes": {}, "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:bench-inbox", "awsRegion": "us-east-1"
            })
        })
        .collect();
    json!({"Records": records}).to_string().into_bytes()
}
