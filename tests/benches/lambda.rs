//! `make bench`'s Lambda measurements (issue 8), on the release binaries speaking the Runtime API:
//! cold start (process spawn → first `next`) for every function and a minimal
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
/// The same route, batching up to 100 events a request.
const BATCHED_ROUTES_PARAMETER: &str = "/okta-relay/bench/batched-routes";
/// Inbox batch sizes the warm cost per event is measured at.
const BATCH_SIZES: [usize; 3] = [1, 10, 100];
/// Events each batch size is measured over.
const BATCH_BENCH_EVENTS: usize = 4_000;
const SAMPLE: &str = include_str!("../../samples/eventbridge-events.jsonl");
/// The relay's timeout in the template: the time each invocation is given.
const FUNCTION_TIMEOUT: Duration = relay_wiring::RELAY_TIMEOUT;
/// The bench route's limit (1000 a second, its most) in one container: invocations of one
/// event start no faster than this, so pacing never waits and the figures are the relay's own.
const PER_REQUEST: Duration = Duration::from_micros(1_100);

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
    // At the most requests a second a route may allow (1000), so the flow's pace binds as
    // little as it can: these figures are the relay's own cost.
    let route = |batch: Option<serde_json::Value>| {
        let mut route = json!({
            "name": "bench", "pattern": {"detail": {"uuid": [{"exists": true}]}},
            "endpoint": endpoint.url("/api/flo/bench/invoke"), "auth": {"scheme": "none"},
            "maxRequestsPerSecond": 1000
        });
        if let Some(batch) = batch {
            route["batch"] = batch;
        }
        json!({"version": 1, "routes": [route]})
    };
    let ssm = aws_sdk_ssm::Client::new(&sdk);
    for (name, table) in [
        (ROUTES_PARAMETER, route(None)),
        (
            BATCHED_ROUTES_PARAMETER,
            route(Some(json!({"maxEvents": 100, "maxWaitSeconds": 0}))),
        ),
    ] {
        okta_relay_e2e::moto::put_parameter(&ssm, name, &table.to_string(), false)
            .await
            .unwrap();
    }
    let queue_url = okta_relay_e2e::moto::create_queue(&sdk, "bench-dlq")
        .await
        .unwrap();
    Peers { queue_url, moto }
}

fn spawn(name: &str, api: &RuntimeApi, peers: &Peers) -> Child {
    spawn_with(name, api, peers, "", ROUTES_PARAMETER)
}

/// `dedup_table`: the idempotency table, or empty for de-duplication off.
fn spawn_with(
    name: &str,
    api: &RuntimeApi,
    peers: &Peers,
    dedup_table: &str,
    routes_parameter: &str,
) -> Child {
    Command::new(binary(name))
        .env("DEDUP_TABLE", dedup_table)
        // One container: the whole route rate is its own.
        .env("MAX_CONCURRENCY", "1")
        .envs(api.lambda_env(name))
        .env("AWS_ENDPOINT_URL", peers.moto.endpoint())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("ROUTES_PARAMETER", routes_parameter)
        .env("DEAD_LETTER_QUEUE_URL", &peers.queue_url)
        // Nothing is requeued in these runs (every delivery succeeds): the DLQ stands in.
        .env("INBOX_QUEUE_URL", &peers.queue_url)
        .env("ALLOW_HTTP_LOCALHOST", "true")
        // The watchdog's and the provisioner's Okta access as an OAuth service app: its client
        // and token are made on first use, so a cold start holds no token request.
        .env("OKTA_ORG_URL", "https://example.okta.com")
        .env("OKTA_OAUTH_CLIENT_ID", "0oa-bench")
        .env("OKTA_OAUTH_SIGNING_KEY", "alias/okta-relay-bench")
        .env("ACCOUNT_ID", "123456789012")
        .env("EVENT_SOURCE_NAME", "okta-relay")
        .env("AWS_REGION", "us-east-1")
        .env(
            "BACKFILL_STATE_PARAMETER",
            "/okta-relay/bench/backfill-state",
        )
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
    let raw = SAMPLE.lines().nth(1).unwrap().as_bytes().to_vec();
    // `BENCH_ONLY=batches`: the batch-size table alone, to profile it (nothing is written).
    if std::env::var("BENCH_ONLY").as_deref() == Ok("batches") {
        batches(&peers, &endpoint, &raw, &mut report).await;
        println!("{report}");
        return;
    }

    let names = [
        "baseline-lambda",
        "relay",
        "provisioner",
        "watchdog",
        "redrive",
    ];
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

    // `BENCH_ONLY=cold`: the cold-start table alone (nothing is written).
    if std::env::var("BENCH_ONLY").as_deref() == Ok("cold") {
        println!("{report}");
        return;
    }

    // Warm: one relay process, many invocations.
    let event = sqs_event(std::slice::from_ref(&raw));
    let api = RuntimeApi::start().await.unwrap();
    let relay = spawn("relay", &api, &peers);
    let started = Instant::now();
    let first = api.invoke(event.clone(), FUNCTION_TIMEOUT).await;
    let first_invocation = started.elapsed();
    assert!(
        matches!(first, Outcome::Response(_)),
        "first invocation failed: {first:?}"
    );
    let mut relayed = Vec::with_capacity(INVOCATIONS);
    for _ in 0..INVOCATIONS {
        let started = Instant::now();
        let outcome = api.invoke(event.clone(), FUNCTION_TIMEOUT).await;
        relayed.push(started.elapsed());
        tokio::time::sleep_until((started + PER_REQUEST).into()).await;
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

    let window = relay_core::pacing::Pacer::new(1).share(1000.0).window;
    writeln!(report, "\nDeferred set-up: the relay's first invocation (AWS config, SSM route fetch from moto, first").unwrap();
    writeln!(
        report,
        "connection to the endpoint) took {}: {} besides the {} a new container waits before its first request to a flow (docs/RELAY.md, pacing), against a warm median of {}.\n",
        ms(first_invocation),
        ms(first_invocation.saturating_sub(window)),
        ms(window),
        ms(warm_median)
    )
    .unwrap();
    writeln!(report, "Warm: {INVOCATIONS} invocations of a 2.7 KB event, one matching route, endpoint answering at once, one started at most every 1.1 ms (the route's 1000 a second).\n").unwrap();
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
    let costs = batches(&peers, &endpoint, &raw, &mut report).await;
    steady_lag(&raw, &mut report).await;
    cost(&costs, &mut report);

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
    let relay = spawn_with("relay", &api, peers, DEDUP_TABLE, ROUTES_PARAMETER);
    let mut template: serde_json::Value = serde_json::from_slice(event).unwrap();
    let events: Vec<Vec<u8>> = (0..DEDUP_INVOCATIONS)
        .map(|index| {
            template["detail"]["uuid"] = json!(format!("bench-dedup-{index:06}"));
            sqs_event(&[template.to_string().into_bytes()])
        })
        .collect();
    let _ = api.invoke(events[0].clone(), FUNCTION_TIMEOUT).await;
    let timed = |events: &[Vec<u8>]| {
        let api = &api;
        let events = events.to_vec();
        async move {
            let mut times = Vec::with_capacity(events.len());
            for event in events {
                let started = Instant::now();
                let outcome = api.invoke(event, FUNCTION_TIMEOUT).await;
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

/// CPU time a process has used, all its threads together (Linux `/proc/<pid>/task/*/schedstat`,
/// nanoseconds on the CPU); zero where unreadable.
fn cpu_time(pid: u32) -> Duration {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Duration::ZERO;
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .map(Duration::from_nanos)
        .sum()
}

/// What a run of timed invocations took: each invocation's time, in order, and the CPU time the
/// function used over all of them.
struct Timed {
    times: Vec<Duration>,
    cpu: Duration,
}

/// Starts `name` against a fresh Runtime API, warms it with `events[0]`, then times every
/// event's invocation, starting one at most every `spacing`.
async fn timed_invocations(
    child: impl FnOnce(&RuntimeApi) -> Child,
    events: &[Vec<u8>],
    spacing: Duration,
) -> Timed {
    let api = RuntimeApi::start().await.unwrap();
    let process = child(&api);
    let warm = api.invoke(events[0].clone(), FUNCTION_TIMEOUT).await;
    assert!(matches!(warm, Outcome::Response(_)), "{warm:?}");
    let mut times = Vec::with_capacity(events.len());
    let cpu_before = cpu_time(process.id());
    for event in events {
        let started = Instant::now();
        let outcome = api.invoke(event.clone(), FUNCTION_TIMEOUT).await;
        times.push(started.elapsed());
        tokio::time::sleep_until((started + spacing).into()).await;
        assert!(matches!(outcome, Outcome::Response(_)), "{outcome:?}");
    }
    let cpu = cpu_time(process.id()).saturating_sub(cpu_before);
    stop(process);
    Timed { times, cpu }
}

/// [`BATCH_SIZES`], or `BENCH_BATCH_SIZES` (comma-separated) to profile some of them.
fn batch_sizes() -> Vec<usize> {
    std::env::var("BENCH_BATCH_SIZES")
        .ok()
        .map(|sizes| {
            sizes
                .split(',')
                .filter_map(|s| s.trim().parse().ok())
                .collect()
        })
        .filter(|sizes: &Vec<usize>| !sizes.is_empty())
        .unwrap_or_else(|| BATCH_SIZES.to_vec())
}

fn mean(times: &[Duration]) -> Duration {
    times.iter().sum::<Duration>() / u32::try_from(times.len().max(1)).unwrap_or(u32::MAX)
}

/// Per event at one inbox batch size: mean invocation time (what Lambda bills) and CPU time
/// (what a 128 MB function's fraction of a vCPU turns into billed time on AWS) over the events
/// carried.
struct BatchCost {
    size: usize,
    time: Sides,
    cpu: Sides,
}

/// The floor, the relay sending one request per event, and the relay batching.
struct Sides {
    floor: Duration,
    relay: Duration,
    batched: Duration,
}

/// One markdown table of `pick`'s figures for every batch size, each against its floor.
fn ratio_table(report: &mut String, costs: &[BatchCost], pick: fn(&BatchCost) -> &Sides) {
    writeln!(
        report,
        "| batch | floor | relay | relay / floor | relay batching | batching / floor |"
    )
    .unwrap();
    writeln!(report, "| ---: | ---: | ---: | ---: | ---: | ---: |").unwrap();
    for cost in costs {
        let sides = pick(cost);
        let ratio = |time: Duration| time.as_secs_f64() / sides.floor.as_secs_f64();
        writeln!(
            report,
            "| {} | {} | {} | {:.2}x | {} | {:.2}x |",
            cost.size,
            us(sides.floor),
            us(sides.relay),
            ratio(sides.relay),
            us(sides.batched),
            ratio(sides.batched)
        )
        .unwrap();
    }
}

/// Warm cost per event for inbox batches of 1, 10 and 100 messages, measured in this run: the
/// relay (one request per event, and batching up to 100 events a request) against the floor,
/// `baseline-sqs-relay`, a `lambda_runtime` function that POSTs every record's body at once.
async fn batches(
    peers: &Peers,
    endpoint: &CountingEndpoint,
    event: &[u8],
    report: &mut String,
) -> Vec<BatchCost> {
    let mut template: serde_json::Value = serde_json::from_slice(event).unwrap();
    let mut costs = Vec::new();
    for size in batch_sizes() {
        let invocations = BATCH_BENCH_EVENTS / size;
        let events: Vec<Vec<u8>> = (0..invocations)
            .map(|invocation| {
                let bodies: Vec<Vec<u8>> = (0..size)
                    .map(|member| {
                        template["detail"]["uuid"] =
                            json!(format!("bench-batch-{size}-{invocation:05}-{member:03}"));
                        template.to_string().into_bytes()
                    })
                    .collect();
                sqs_event(&bodies)
            })
            .collect();
        let floor_url = endpoint.url("/api/flo/floor/invoke");
        // Every side alike, so the figures are the relay's own cost, never its pacing.
        let spacing = PER_REQUEST * u32::try_from(size).unwrap_or(u32::MAX);
        let floor = timed_invocations(
            |api| {
                Command::new(binary("baseline-sqs-relay"))
                    .envs(api.lambda_env("baseline-sqs-relay"))
                    .env("FLOOR_ENDPOINT", &floor_url)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap()
            },
            &events,
            spacing,
        )
        .await;
        let relay = timed_invocations(
            |api| spawn_with("relay", api, peers, "", ROUTES_PARAMETER),
            &events,
            spacing,
        )
        .await;
        let batched = timed_invocations(
            |api| spawn_with("relay", api, peers, "", BATCHED_ROUTES_PARAMETER),
            &events,
            spacing,
        )
        .await;
        let size_u32 = u32::try_from(size).unwrap_or(1);
        let per_event = |timed: &Timed| mean(&timed.times) / size_u32;
        let cpu_per_event =
            |timed: &Timed| timed.cpu / size_u32 / u32::try_from(invocations).unwrap_or(1);
        costs.push(BatchCost {
            size,
            time: Sides {
                floor: per_event(&floor),
                relay: per_event(&relay),
                batched: per_event(&batched),
            },
            cpu: Sides {
                floor: cpu_per_event(&floor),
                relay: cpu_per_event(&relay),
                batched: cpu_per_event(&batched),
            },
        });
    }

    writeln!(report, "\nWarm cost per event by inbox batch size: mean invocation time over the events it carried, {BATCH_BENCH_EVENTS} events each. The floor is `baseline-sqs-relay` (reads the SQS event, POSTs every record's body at once, answers); the relay sends one request per event (route at 1000 requests/s, one container; invocations start no faster than the route allows, so pacing never waits), or batches up to 100 events a request.\n").unwrap();
    ratio_table(report, &costs, |cost| &cost.time);
    writeln!(report, "\nCPU time per event in the same runs (the function process, all its threads; Linux schedstat):\n").unwrap();
    ratio_table(report, &costs, |cost| &cost.cpu);
    costs
}

/// Events a second the lag is measured at, below the flow's limit.
const STEADY_RATE: u64 = 5;
const STEADY_SECONDS: u64 = 60;
const FLOW_LIMIT: usize = 10;

/// End-to-end lag at a steady rate below the flow's limit, through the whole door: events put
/// in the inbox (moto's SQS) at 5 a second for a minute, the event source mapping as the
/// template sets it (batches of 10 gathered for up to 1 s, 2 containers), a flow limited to 10
/// requests a second; lag from `SendMessage` to the flow receiving the event.
async fn steady_lag(event: &[u8], report: &mut String) {
    use okta_relay_e2e::event_source_mapping::{EventSourceMapping, MappingSettings};
    use okta_relay_e2e::workflows::{FlowLimit, WorkflowsEndpoint};

    let moto = MotoServer::start().unwrap();
    let sdk = moto.sdk_config().await;
    let flow = WorkflowsEndpoint::start().await.unwrap();
    flow.limit_flow(
        "/lag",
        FlowLimit {
            per_second: FLOW_LIMIT,
            retry_after_seconds: None,
        },
    );
    let routes = json!({"version": 1, "routes": [{
        "name": "lag", "pattern": {"detail": {"uuid": [{"exists": true}]}},
        "endpoint": flow.url("/lag"), "auth": {"scheme": "none"},
        "maxRequestsPerSecond": FLOW_LIMIT
    }]});
    let ssm = aws_sdk_ssm::Client::new(&sdk);
    okta_relay_e2e::moto::put_parameter(&ssm, ROUTES_PARAMETER, &routes.to_string(), false)
        .await
        .unwrap();
    let dead_letters = okta_relay_e2e::moto::create_queue(&sdk, "lag-dlq")
        .await
        .unwrap();
    let (inbox, inbox_arn) =
        okta_relay_e2e::moto::create_inbox(&sdk, "lag-inbox", &dead_letters, 720, 5)
            .await
            .unwrap();
    let api = std::sync::Arc::new(RuntimeApi::start().await.unwrap());
    let containers = 2;
    let processes: Vec<Child> = (0..containers)
        .map(|_| {
            Command::new(binary("relay"))
                .envs(api.lambda_env("relay"))
                .envs(moto.process_env())
                .env("ROUTES_PARAMETER", ROUTES_PARAMETER)
                .env("DEAD_LETTER_QUEUE_URL", &dead_letters)
                .env("INBOX_QUEUE_URL", &inbox)
                .env("MAX_CONCURRENCY", containers.to_string())
                .env("ALLOW_HTTP_LOCALHOST", "true")
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let mapping = EventSourceMapping::start(
        aws_sdk_sqs::Client::new(&sdk),
        &inbox,
        &inbox_arn,
        api,
        MappingSettings {
            batch_size: 10,
            batching_window: Duration::from_secs(1),
            max_concurrency: containers,
            function_timeout: Duration::from_secs(120),
        },
    );

    let mut template: serde_json::Value = serde_json::from_slice(event).unwrap();
    let mut sent = std::collections::HashMap::new();
    let mut ticks = tokio::time::interval(Duration::from_millis(1000 / STEADY_RATE));
    for index in 0..STEADY_RATE * STEADY_SECONDS {
        ticks.tick().await;
        let uuid = format!("bench-lag-{index:05}");
        template["detail"]["uuid"] = json!(uuid);
        okta_relay_e2e::moto::send_bodies(&sdk, &inbox, &[template.to_string()])
            .await
            .unwrap();
        sent.insert(uuid, Instant::now());
    }
    assert!(
        mapping.wait_until_drained(Duration::from_secs(120)).await,
        "the inbox did not drain"
    );
    drop(mapping);
    for process in processes {
        stop(process);
    }
    let received = flow.received();
    let mut lags: Vec<Duration> = received
        .iter()
        .filter(|request| request.succeeded())
        .filter_map(|request| {
            let sent = sent.get(request.header("idempotency-key")?)?;
            Some(request.at.saturating_duration_since(*sent))
        })
        .collect();
    lags.sort();
    let refused = received.iter().filter(|r| !r.succeeded()).count();
    writeln!(report, "\nEnd-to-end lag at a steady {STEADY_RATE} events/s for {STEADY_SECONDS} s (flow limited to {FLOW_LIMIT}/s; inbox in moto's SQS; event source mapping with batches of 10, a 1 s batching window, 2 containers): from `SendMessage` to the flow receiving the event.\n").unwrap();
    writeln!(
        report,
        "| events delivered | p50 | p99 | max | refused by the flow |"
    )
    .unwrap();
    writeln!(report, "| ---: | ---: | ---: | ---: | ---: |").unwrap();
    writeln!(
        report,
        "| {} of {} | {} | {} | {} | {refused} |",
        lags.len(),
        sent.len(),
        ms(percentile(&lags, 0.5)),
        ms(percentile(&lags, 0.99)),
        ms(lags.last().copied().unwrap_or_default()),
    )
    .unwrap();
}

/// List prices, us-east-1, x86_64 (aws.amazon.com/lambda/pricing, /sqs/pricing,
/// /eventbridge/pricing).
const LAMBDA_PER_MILLION_REQUESTS: f64 = 0.20;
const LAMBDA_PER_GB_SECOND: f64 = 0.000_016_666_7;
const SQS_PER_MILLION_REQUESTS: f64 = 0.40;
const API_DESTINATIONS_PER_MILLION: f64 = 0.20;
const MEMORY_GB: f64 = 0.125;

/// Cost per million matched events (one route each, a flow answering at once), from the warm
/// times measured above: the inbox at the template's batch of 10, the previous design (one
/// asynchronous invocation per event), and EventBridge API destinations.
fn cost(costs: &[BatchCost], report: &mut String) {
    let at = |size: usize| costs.iter().find(|cost| cost.size == size);
    let (Some(single), Some(ten)) = (at(1), at(10)) else {
        return;
    };
    let gb_seconds = |per_event: Duration| 1e6 * per_event.as_secs_f64() * MEMORY_GB;
    // EventBridge's SendMessage per event; the event source mapping's receive and batch delete
    // per batch of 10.
    let inbox_sqs = (1e6 + 2.0 * 1e6 / 10.0) / 1e6 * SQS_PER_MILLION_REQUESTS;
    let rows = [
        (
            "inbox, batches of 10 (this design)",
            1e6 / 10.0 / 1e6 * LAMBDA_PER_MILLION_REQUESTS,
            gb_seconds(ten.time.relay) * LAMBDA_PER_GB_SECOND,
            inbox_sqs,
        ),
        (
            "one asynchronous invocation per event (the previous design)",
            LAMBDA_PER_MILLION_REQUESTS,
            gb_seconds(single.time.relay) * LAMBDA_PER_GB_SECOND,
            0.0,
        ),
        (
            "EventBridge API destinations (no enrichment, routing or batching)",
            0.0,
            0.0,
            API_DESTINATIONS_PER_MILLION,
        ),
    ];
    writeln!(report, "\nCost per million matched events at list prices (us-east-1, x86_64, 128 MB; Lambda ${LAMBDA_PER_MILLION_REQUESTS} per million requests and ${LAMBDA_PER_GB_SECOND} per GB-s, SQS ${SQS_PER_MILLION_REQUESTS} per million requests, API destinations ${API_DESTINATIONS_PER_MILLION} per million invocations), from the warm times above with a flow that answers at once. Partner-event ingestion ($1.00 per million) is the same for all three and left out.\n").unwrap();
    writeln!(
        report,
        "| design | Lambda requests | Lambda GB-s | SQS or API destinations | total |"
    )
    .unwrap();
    writeln!(report, "| --- | ---: | ---: | ---: | ---: |").unwrap();
    for (design, requests, compute, queue) in rows {
        writeln!(
            report,
            "| {design} | ${requests:.3} | ${compute:.3} | ${queue:.3} | **${:.3}** |",
            requests + compute + queue
        )
        .unwrap();
    }
}
