#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

//! The hostile-peer suite: every input channel tried as an attacker would, each attack with the
//! outcome it must have: a clear error or a dead letter with its reason, no token anywhere it
//! does not belong, no panic (every process still running), bounded memory.
//!
//! - Workflows answers, events and client tokens: through the **release relay** binary under the
//!   Runtime API, against moto and [`HostilePeer`] (redirects of every code, huge and trickling
//!   bodies, absurd headers, garbage), with a second peer standing for wherever a redirect points.
//! - Route tables: what a changed SSM parameter could point the relay at.
//! - Okta answers and saved cursors: the Okta client against a hostile "Okta".
//! - CloudFormation requests: the **release provisioner** binary.
//! - Operator inputs: the `okta-relay` CLI binary.
//!
//! Each test prints one line per attack (`attack | outcome`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use okta_relay_e2e::functions::{FunctionProcess, release_binary};
use okta_relay_e2e::hostile::{HostilePeer, Seen, Step, ok, response};
use okta_relay_e2e::moto::{MotoServer, put_parameter};
use okta_relay_e2e::runtime_api::{Outcome, RuntimeApi};
use serde_json::{Value, json};

const ROUTES_PARAMETER: &str = "/okta-relay/routes";
const TOKENS_PATH: &str = "/okta-relay/workflows";
const OKTA_TOKEN_PARAMETER: &str = "/okta-relay/okta-api-token";
const OKTA_TOKEN: &str = "00hostile-okta-api-token-5e1d";
const RELAY_TIMEOUT: Duration = Duration::from_secs(30);
/// Lambda gives the relay 128 MB (template.yaml); a peer's answer must not take it.
const RELAY_MEMORY_KIB: u64 = 128 * 1024;

/// What an attack must end in.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// The flow got it: no dead letter.
    Delivered,
    /// A permanent `delivery_failed` letter whose reason contains the text (what may pass
    /// later goes back to the inbox: `Requeued`).
    DeadLettered(&'static str),
    /// A `bad_input` letter whose reason contains the text.
    BadInput(&'static str),
    /// Back in the inbox for its route, the reason containing the text, visible again within
    /// seconds (the computed backoff, whatever the peer's `Retry-After` said): it may pass later.
    Requeued(&'static str),
}

type Answer = fn(&str, u32) -> Vec<Step>;
type Mutate = fn(&mut Value) -> Option<Vec<u8>>;

struct Attack {
    name: &'static str,
    /// The route's auth scheme (`header`, `query`, `bearer`).
    scheme: &'static str,
    /// The route's token parameter; `None`: its own, under the tokens path.
    token_parameter: Option<&'static str>,
    /// The route's token value; `None`: a unique one.
    token_value: Option<&'static str>,
    timeout_ms: u64,
    /// How the peer answers (given where redirects point and the attempt number).
    answer: Answer,
    /// Changes the event; answers raw bytes when the attack is bytes JSON cannot hold.
    mutate: Mutate,
    /// Added to the route's pattern.
    pattern: Option<fn() -> Value>,
    expect: Expect,
}

const fn attack(name: &'static str, answer: Answer, expect: Expect) -> Attack {
    Attack {
        name,
        scheme: "header",
        token_parameter: None,
        token_value: None,
        timeout_ms: 1000,
        answer,
        mutate: |_| None,
        pattern: None,
        expect,
    }
}

fn redirect(status: &str, location: &str) -> Vec<Step> {
    response(status, &[("location", location)], b"")
}

fn attacks() -> Vec<Attack> {
    use Expect::*;
    vec![
        // Redirects: never followed, a permanent failure naming the host, nothing reaches it.
        attack(
            "301 to another host",
            |to, _| redirect("301 Moved Permanently", &format!("{to}/steal")),
            DeadLettered("HTTP 301 redirecting to http://127.0.0.1"),
        ),
        attack(
            "302 to another host (POST would become GET)",
            |to, _| redirect("302 Found", &format!("{to}/steal")),
            DeadLettered("HTTP 302 redirecting to http://127.0.0.1"),
        ),
        attack(
            "303 to another host (POST would become GET)",
            |to, _| redirect("303 See Other", &format!("{to}/steal")),
            DeadLettered("HTTP 303 redirecting"),
        ),
        attack(
            "307 to another host (token would follow)",
            |to, _| redirect("307 Temporary Redirect", &format!("{to}/steal")),
            DeadLettered("HTTP 307 redirecting"),
        ),
        attack(
            "308 to another host (token would follow)",
            |to, _| redirect("308 Permanent Redirect", &format!("{to}/steal")),
            DeadLettered("HTTP 308 redirecting"),
        ),
        Attack {
            scheme: "query",
            ..attack(
                "307 with the token in the query (Referer)",
                |to, _| redirect("307 Temporary Redirect", &format!("{to}/steal")),
                DeadLettered("HTTP 307"),
            )
        },
        Attack {
            scheme: "bearer",
            ..attack(
                "308 with a bearer token",
                |to, _| redirect("308 Permanent Redirect", &format!("{to}/steal")),
                DeadLettered("HTTP 308"),
            )
        },
        attack(
            "302 to https on an unknown host",
            |_, _| redirect("302 Found", "https://evil.example/x?clientToken=stolen"),
            DeadLettered("redirecting to evil.example;"),
        ),
        attack(
            "302 to plain http (downgrade)",
            |_, _| redirect("302 Found", "http://downgrade.example:8080/"),
            DeadLettered("redirecting to http://downgrade.example:8080"),
        ),
        attack(
            "301 without Location",
            |_, _| response("301 Moved Permanently", &[], b""),
            DeadLettered("no usable Location"),
        ),
        attack(
            "307 to a relative path",
            |_, _| redirect("307 Temporary Redirect", "/elsewhere"),
            DeadLettered("HTTP 307 redirecting to http://127.0.0.1"),
        ),
        attack(
            "300 Multiple Choices",
            |to, _| redirect("300 Multiple Choices", to),
            DeadLettered("HTTP 300"),
        ),
        // Bodies: read a little, never buffered whole; the status decides.
        attack(
            "200 with a 64 MiB body",
            |_, _| {
                let mut steps = response("200 OK", &[("content-length", "67108864")], b"");
                steps.push(Step::Repeat {
                    chunk: vec![b'x'; 65536],
                    times: 1024,
                });
                steps
            },
            Delivered,
        ),
        attack(
            "200 with an endless chunked body",
            |_, _| {
                let mut steps = response("200 OK", &[("transfer-encoding", "chunked")], b"");
                steps.push(Step::Repeat {
                    chunk: b"10000\r\n"
                        .iter()
                        .copied()
                        .chain(std::iter::repeat_n(b'y', 65536))
                        .chain(*b"\r\n")
                        .collect(),
                    times: 2048,
                });
                steps
            },
            Delivered,
        ),
        attack(
            "200, then a body that trickles past the timeout",
            |_, _| {
                let mut steps = response("200 OK", &[("content-length", "100")], b"");
                for _ in 0..30 {
                    steps.push(Step::Sleep(Duration::from_millis(100)));
                    steps.push(Step::Write(b"z".to_vec()));
                }
                steps
            },
            Delivered,
        ),
        attack(
            "Content-Length that lies (1000, sends 10)",
            |_, _| {
                let mut steps = response("200 OK", &[("content-length", "1000")], b"");
                steps.push(Step::Write(b"0123456789".to_vec()));
                steps
            },
            Delivered,
        ),
        attack(
            "gzip bomb (never inflated)",
            |_, _| {
                let mut steps = response(
                    "200 OK",
                    &[("content-encoding", "gzip"), ("content-length", "16777216")],
                    b"",
                );
                steps.push(Step::Repeat {
                    chunk: vec![0u8; 65536],
                    times: 256,
                });
                steps
            },
            Delivered,
        ),
        attack(
            "401 with a 32 MiB body",
            |_, _| {
                let mut steps = response(
                    "401 Unauthorized",
                    &[
                        ("www-authenticate", "Bearer"),
                        ("content-length", "33554432"),
                    ],
                    b"",
                );
                steps.push(Step::Repeat {
                    chunk: vec![b'e'; 65536],
                    times: 512,
                });
                steps
            },
            DeadLettered("HTTP 401"),
        ),
        attack(
            "204 No Content",
            |_, _| response("204 No Content", &[("content-length", "0")], b""),
            Delivered,
        ),
        // Pace and framing.
        attack(
            "headers slower than the attempt timeout",
            |_, _| vec![Step::Sleep(Duration::from_millis(1500))],
            Requeued("timed out after"),
        )
        .with_timeout(500),
        attack(
            "connection closed without an answer",
            |_, _| Vec::new(),
            Requeued("request failed"),
        ),
        attack(
            "garbage instead of HTTP",
            |_, _| vec![Step::Write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n".to_vec())],
            Requeued("request failed"),
        ),
        attack(
            "status 999",
            |_, _| response("999 Whatever", &[], b""),
            DeadLettered("HTTP 999"),
        ),
        attack(
            "1,000 headers",
            |_, _| {
                let headers: Vec<(String, String)> =
                    (0..1000).map(|i| (format!("x-h{i}"), "v".into())).collect();
                let borrowed: Vec<(&str, &str)> = headers
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                response("200 OK", &borrowed, b"")
            },
            Requeued("request failed"),
        ),
        attack(
            "a 1 MiB header",
            |_, _| {
                let value = "v".repeat(1024 * 1024);
                response("200 OK", &[("x-huge", value.as_str())], b"")
            },
            Requeued("request failed"),
        ),
        // Absurd Retry-After: ignored (the computed backoff), never a panic; the retry goes back
        // to the inbox and is visible again within seconds.
        attack(
            "429 Retry-After: 9223372036854775807",
            |_, n| {
                if n < 3 {
                    response(
                        "429 Too Many Requests",
                        &[("retry-after", "9223372036854775807")],
                        b"",
                    )
                } else {
                    ok()
                }
            },
            Requeued("HTTP 429"),
        ),
        attack(
            "429 Retry-After: 99999999999999999999999",
            |_, n| {
                if n < 3 {
                    response(
                        "429 Too Many Requests",
                        &[("retry-after", "99999999999999999999999")],
                        b"",
                    )
                } else {
                    ok()
                }
            },
            Requeued("HTTP 429"),
        ),
        attack(
            "503 Retry-After: -1",
            |_, n| {
                if n < 3 {
                    response("503 Service Unavailable", &[("retry-after", "-1")], b"")
                } else {
                    ok()
                }
            },
            Requeued("HTTP 503"),
        ),
        attack(
            "429 Retry-After in the year 9999",
            |_, n| {
                if n < 3 {
                    response(
                        "429 Too Many Requests",
                        &[("retry-after", "Fri, 31 Dec 9999 23:59:59 GMT")],
                        b"",
                    )
                } else {
                    ok()
                }
            },
            Requeued("HTTP 429"),
        ),
        attack(
            "429 Retry-After: soon",
            |_, n| {
                if n < 2 {
                    response("429 Too Many Requests", &[("retry-after", "soon")], b"")
                } else {
                    ok()
                }
            },
            Requeued("HTTP 429"),
        ),
        // Events: outside data that used to panic or mislead, all bad input or handled.
        attack("published +262142-12-31T23:59:59Z", |_, _| ok(), Delivered).mutating(|event| {
            event["detail"]["published"] = json!("+262142-12-31T23:59:59Z");
            None
        }),
        attack("published -262143-01-01T00:00:30Z", |_, _| ok(), Delivered).mutating(|event| {
            event["detail"]["published"] = json!("-262143-01-01T00:00:30Z");
            None
        }),
        attack(
            "uuid with a line break (header injection)",
            |_, _| ok(),
            BadInput("uuid: must be at most 128 printable ASCII"),
        )
        .mutating(|event| {
            event["detail"]["uuid"] = json!("u-1\r\nx-evil: 1");
            None
        }),
        attack(
            "uuid of 10,000 characters",
            |_, _| ok(),
            BadInput("uuid: must be at most 128"),
        )
        .mutating(|event| {
            event["detail"]["uuid"] = json!("u".repeat(10_000));
            None
        }),
        attack(
            "duplicate key in detail",
            |_, _| ok(),
            BadInput("duplicate key `eventType`"),
        )
        .mutating(|event| {
            let text = event.to_string();
            let kind = event["detail"]["eventType"].as_str().unwrap().to_owned();
            Some(
                text.replacen(
                    "\"detail\":{",
                    &format!("\"detail\":{{\"eventType\":\"{kind}\","),
                    1,
                )
                .into_bytes(),
            )
        }),
        attack(
            "duplicate detail-type at the top",
            |_, _| ok(),
            BadInput("duplicate key `detail-type`"),
        )
        .mutating(|event| {
            Some(
                event
                    .to_string()
                    .replacen('{', "{\"detail-type\":\"x\",", 1)
                    .into_bytes(),
            )
        }),
        attack(
            "nesting 100,000 deep",
            |_, _| ok(),
            BadInput("recursion limit"),
        )
        .mutating(|event| {
            let account = event["account"].as_str().unwrap();
            let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
            Some(format!("{{\"account\":\"{account}\",\"x\":{nested}}}").into_bytes())
        }),
        attack(
            "a 300 KB payload",
            |_, _| ok(),
            BadInput("over the 262144-byte"),
        )
        .mutating(|event| {
            event["detail"]["displayMessage"] = json!("m".repeat(300_000));
            None
        }),
        attack("routes see `time` as written", |_, _| ok(), Delivered)
            .mutating(|event| {
                event["time"] = json!("2026-11-24T09:15:02Z");
                None
            })
            .with_pattern(|| json!({"time": ["2026-11-24T09:15:02Z"]})),
        attack(
            "a 262,000-byte event with control bytes, refused (its letter would pass the queue limit)",
            |_, _| response("400 Bad Request", &[], b""),
            DeadLettered("HTTP 400"),
        )
        .mutating(|event| {
            // Just under EventBridge's 262,144 bytes: with a letter's fields around it, over
            // the queue's limit. Control bytes are six bytes each in JSON.
            event["detail"]["displayMessage"] = json!("");
            let room = 262_000 - event.to_string().len();
            let controls = "\u{1}".repeat(1_000);
            event["detail"]["displayMessage"] = json!(controls + &"m".repeat(room - 6_000));
            None
        }),
        // Client tokens from SSM: what a changed route or parameter could make the relay send.
        Attack {
            token_value: Some("tok\r\nx-injected: yes"),
            ..attack(
                "client token with a line break",
                |_, _| ok(),
                DeadLettered("client token contains characters not allowed"),
            )
        },
        Attack {
            token_parameter: Some(OKTA_TOKEN_PARAMETER),
            ..attack(
                "route naming the Okta API token as its client token",
                |_, _| ok(),
                DeadLettered("holds the Okta API token"),
            )
        },
        Attack {
            token_parameter: Some("/elsewhere/token"),
            ..attack(
                "client token outside WorkflowsTokensPath",
                |_, _| ok(),
                DeadLettered("outside /okta-relay/workflows"),
            )
        },
    ]
}

impl Attack {
    fn with_timeout(mut self, timeout_ms: u64) -> Self {
        self.timeout_ms = timeout_ms;
        self
    }

    fn mutating(mut self, mutate: Mutate) -> Self {
        self.mutate = mutate;
        self
    }

    fn with_pattern(mut self, pattern: fn() -> Value) -> Self {
        self.pattern = Some(pattern);
        self
    }

    fn token(&self, index: usize) -> String {
        self.token_value
            .map_or_else(|| format!("tok-a{index}-4f9c2e"), str::to_owned)
    }

    fn token_parameter(&self, index: usize) -> String {
        self.token_parameter
            .map_or_else(|| format!("{TOKENS_PATH}/a{index}"), str::to_owned)
    }
}

fn sample_event() -> Value {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../samples/eventbridge-events.jsonl");
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str(text.lines().next().unwrap()).unwrap()
}

fn event_for(index: usize, attack: &Attack) -> Vec<u8> {
    let mut event = sample_event();
    event["id"] = json!(format!("hostile-{index}"));
    // First in the serialised text (keys sort), so even a cut, rejected payload names its attack.
    event["account"] = json!(marker(index));
    event["detail"]["uuid"] = json!(format!("00000000-0000-4000-8000-{index:012}"));
    event["detail"]["eventType"] = json!(format!("attack.{index}"));
    (attack.mutate)(&mut event).unwrap_or_else(|| event.to_string().into_bytes())
}

/// The event source mapping's invocation for one inbox message.
fn sqs_event(index: usize, body: &[u8]) -> String {
    json!({"Records": [{
        "messageId": format!("m-{index}"), "receiptHandle": format!("r-{index}"),
        "body": String::from_utf8_lossy(body),
        "attributes": {"ApproximateReceiveCount": "1",
                       "SentTimestamp": chrono::Utc::now().timestamp_millis().to_string()},
        "messageAttributes": {}, "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:relay-inbox", "awsRegion": "us-east-1"
    }]})
    .to_string()
}

fn marker(index: usize) -> String {
    format!("hostile-{index:04}")
}

fn route_for(index: usize, attack: &Attack, peer: &HostilePeer) -> Value {
    let mut pattern = json!({"detail": {"eventType": [format!("attack.{index}")]}});
    if let Some(extra) = attack.pattern {
        for (key, value) in extra().as_object().unwrap() {
            pattern[key] = value.clone();
        }
    }
    json!({
        "name": format!("a{index}"),
        "pattern": pattern,
        "endpoint": peer.url(&format!("/a{index}")),
        "auth": {"scheme": attack.scheme, "tokenParameter": attack.token_parameter(index)},
        "timeoutMs": attack.timeout_ms,
    })
}

/// Every message in the queue, with its parsed body; `wait`: how long each read waits for
/// messages still delayed (a retry's backoff).
async fn read_all(sqs: &aws_sdk_sqs::Client, queue_url: &str, wait: i32) -> Vec<(String, Value)> {
    let mut letters = Vec::new();
    let mut empty_reads = 0;
    while empty_reads < 2 {
        let read = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .visibility_timeout(600)
            .wait_time_seconds(wait)
            .send()
            .await
            .unwrap();
        if read.messages().is_empty() {
            empty_reads += 1;
        }
        for message in read.messages() {
            let body = message.body().unwrap().to_owned();
            letters.push((body.clone(), serde_json::from_str(&body).unwrap()));
        }
    }
    letters
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn workflows_answers_events_and_client_tokens_through_the_release_relay() {
    let attacks = Arc::new(attacks());
    let moto = MotoServer::start().unwrap();
    let config = moto.sdk_config().await;
    let ssm = aws_sdk_ssm::Client::new(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);
    let queue_url = okta_relay_e2e::moto::create_queue(&config, "relay-dlq")
        .await
        .unwrap();
    let inbox_url = okta_relay_e2e::moto::create_queue(&config, "relay-inbox")
        .await
        .unwrap();
    // Wherever a redirect points: it must never be reached.
    let elsewhere = HostilePeer::start(|_, _| ok()).await.unwrap();
    let elsewhere_url = elsewhere.url("");
    let peer = {
        let attacks = attacks.clone();
        HostilePeer::start(move |seen: &Seen, attempt| {
            let index: usize = seen
                .target
                .trim_start_matches("/a")
                .split(['?', '/'])
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(usize::MAX);
            attacks
                .get(index)
                .map_or_else(ok, |attack| (attack.answer)(&elsewhere_url, attempt))
        })
        .await
        .unwrap()
    };
    let routes: Vec<Value> = attacks
        .iter()
        .enumerate()
        .map(|(index, attack)| route_for(index, attack, &peer))
        .collect();
    put_parameter(
        &ssm,
        ROUTES_PARAMETER,
        &json!({"version": 1, "routes": routes}).to_string(),
        false,
    )
    .await
    .unwrap();
    put_parameter(&ssm, OKTA_TOKEN_PARAMETER, OKTA_TOKEN, true)
        .await
        .unwrap();
    put_parameter(&ssm, "/elsewhere/token", "tok-elsewhere-9a7b", true)
        .await
        .unwrap();
    for (index, attack) in attacks.iter().enumerate() {
        if attack.token_parameter.is_none() {
            put_parameter(
                &ssm,
                &attack.token_parameter(index),
                &attack.token(index),
                true,
            )
            .await
            .unwrap();
        }
    }
    let api = RuntimeApi::start().await.unwrap();
    let mut env = api.lambda_env("okta-relay-relay");
    env.extend(moto.process_env());
    env.extend(
        [
            ("RUST_LOG", "info"),
            ("ROUTES_PARAMETER", ROUTES_PARAMETER),
            ("ROUTES_TTL_SECONDS", "300"),
            ("DEAD_LETTER_QUEUE_URL", queue_url.as_str()),
            ("INBOX_QUEUE_URL", inbox_url.as_str()),
            ("MAX_CONCURRENCY", "4"),
            ("OKTA_ORG_URL", "https://example.okta.com"),
            ("ALLOW_HTTP_LOCALHOST", "true"),
            ("WORKFLOWS_TOKENS_PATH", TOKENS_PATH),
            ("OKTA_API_TOKEN_PARAMETER", OKTA_TOKEN_PARAMETER),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    let binary = release_binary("relay").unwrap();
    let mut processes: Vec<FunctionProcess> = (0..4)
        .map(|_| FunctionProcess::spawn(&binary, &env).unwrap())
        .collect();

    let outcomes: Vec<(usize, Outcome)> = futures_util::stream::iter(0..attacks.len())
        .map(|index| {
            let payload = sqs_event(index, &event_for(index, &attacks[index]));
            let api = &api;
            async move { (index, api.invoke(payload, RELAY_TIMEOUT).await) }
        })
        .buffer_unordered(8)
        .collect()
        .await;

    let logs: String = processes
        .iter()
        .map(FunctionProcess::log)
        .collect::<Vec<_>>()
        .join("\n");
    for process in &mut processes {
        assert!(process.is_running(), "a relay process ended: {logs}");
        let peak = process.peak_memory_kib().unwrap();
        assert!(
            peak < RELAY_MEMORY_KIB / 2,
            "a relay process peaked at {peak} KiB, near Lambda's 128 MB"
        );
    }
    let letters = read_all(&sqs, &queue_url, 0).await;
    // A retry is delayed by its backoff (1 s): reads that wait 2 s find every one of them.
    let retries = read_all(&sqs, &inbox_url, 2).await;
    let retry_for = |index: usize| -> Option<&Value> {
        retries
            .iter()
            .map(|(_, retry)| retry)
            .find(|retry| retry["okta-relay"]["routes"] == json!([format!("a{index}")]))
    };
    let letter_for = |index: usize| -> Option<&(String, Value)> {
        let marker = marker(index);
        letters.iter().find(|(body, letter)| {
            letter["route"] == format!("a{index}")
                || letter["kind"] == "bad_input" && body.contains(&marker)
        })
    };
    let mut outcomes: HashMap<usize, Outcome> = outcomes.into_iter().collect();
    let mut secrets: Vec<String> = vec![OKTA_TOKEN.into(), "tok-elsewhere-9a7b".into()];
    secrets.extend((0..attacks.len()).map(|index| attacks[index].token(index)));
    for (index, attack) in attacks.iter().enumerate() {
        let outcome = outcomes.remove(&index).unwrap();
        let Outcome::Response(answer) = outcome else {
            panic!(
                "{}: the invocation failed ({outcome:?}): {logs}",
                attack.name
            );
        };
        let answer: Value = serde_json::from_slice(&answer).unwrap();
        assert_eq!(
            answer["batchItemFailures"],
            json!([]),
            "{}: every message settled",
            attack.name
        );
        let letter = letter_for(index);
        if !matches!(attack.expect, Expect::Requeued(_)) {
            assert_eq!(
                retry_for(index),
                None,
                "{}: went back to the inbox",
                attack.name
            );
        }
        let summary = match (attack.expect, letter) {
            (Expect::Delivered, None) => {
                assert!(
                    peer.seen_at(&format!("/a{index}"))
                        .iter()
                        .any(|seen| seen.method == "POST"),
                    "{}: nothing reached the flow",
                    attack.name
                );
                "delivered".to_owned()
            }
            (Expect::DeadLettered(reason), Some((_, letter))) => {
                assert_eq!(letter["kind"], "delivery_failed", "{}", attack.name);
                assert_eq!(letter["permanent"], true, "{}: {letter}", attack.name);
                let said = letter["reason"].as_str().unwrap();
                assert!(said.contains(reason), "{}: reason `{said}`", attack.name);
                format!("dead letter (permanent): {said}")
            }
            (Expect::BadInput(reason), Some((_, letter))) => {
                assert_eq!(letter["kind"], "bad_input", "{}: {letter}", attack.name);
                let said = letter["reason"].as_str().unwrap();
                assert!(said.contains(reason), "{}: reason `{said}`", attack.name);
                format!(
                    "bad input, dead letter: {}",
                    said.chars().take(110).collect::<String>()
                )
            }
            (Expect::Requeued(reason), None) => {
                let retry = retry_for(index).unwrap_or_else(|| {
                    panic!("{}: not back in the inbox within seconds", attack.name)
                });
                assert_eq!(retry["okta-relay"]["attempts"], 1, "{}", attack.name);
                let said = retry["okta-relay"]["lastReason"].as_str().unwrap();
                assert!(said.contains(reason), "{}: reason `{said}`", attack.name);
                format!("back in the inbox, visible again within 2 s: {said}")
            }
            (expected, found) => panic!("{}: expected {expected:?}, found {found:?}", attack.name),
        };
        println!("{} | {summary}", attack.name);
    }
    assert!(
        elsewhere.seen().is_empty(),
        "a redirect was followed: {:?}",
        elsewhere.seen()
    );
    // Letters always fit the queue, and the one at the limit says it was cut.
    for (body, _) in &letters {
        assert!(
            body.len() <= relay_core::dead_letter::MAX_LETTER_BYTES,
            "{} bytes",
            body.len()
        );
    }
    let control = attacks
        .iter()
        .position(|attack| attack.name.starts_with("a 262,000-byte event"))
        .unwrap();
    assert_eq!(letter_for(control).unwrap().1["eventTruncated"], true);
    // No token is anywhere but its own route's requests.
    for (index, attack) in attacks.iter().enumerate() {
        let token = attack.token(index);
        for seen in peer.seen() {
            if !seen.target.starts_with(&format!("/a{index}")) {
                assert!(
                    !seen.text().contains(&token),
                    "{}'s token reached {}",
                    attack.name,
                    seen.target
                );
            }
        }
    }
    for seen in peer.seen() {
        assert!(
            !seen.text().contains(OKTA_TOKEN),
            "the Okta API token reached a flow"
        );
        assert!(
            !seen.text().contains("tok-elsewhere-9a7b"),
            "a token outside the path was read"
        );
    }
    for secret in &secrets {
        assert!(
            !logs.contains(secret.as_str()),
            "a token leaked into the logs"
        );
        for (body, _) in letters.iter().chain(&retries) {
            assert!(
                !body.contains(secret.as_str()),
                "a token leaked into a dead letter or a retry"
            );
        }
    }
    okta_relay_e2e::report(format!(
        "hostile peers: {} attacks on the release relay (Workflows answers, events, client tokens) held: 0 panics, 0 tokens elsewhere, {} back in the inbox at the computed backoff, {} dead letters each at most {} bytes, peak memory {} KiB",
        attacks.len(),
        retries.len(),
        letters.len(),
        relay_core::dead_letter::MAX_LETTER_BYTES,
        processes
            .iter()
            .filter_map(FunctionProcess::peak_memory_kib)
            .max()
            .unwrap_or(0)
    ));
}

/// What a changed route table could point the relay at, refused at load with the route and host
/// named (the relay then keeps its last good table, or fails the invocation for Lambda to retry).
#[test]
fn route_tables_cannot_point_the_relay_anywhere_else() {
    use relay_core::{LoadOptions, RouteTable};
    let table = |endpoint: &str, pattern: Value, options: &LoadOptions| {
        let route = json!({"name": "r", "pattern": pattern, "endpoint": endpoint,
                           "auth": {"scheme": "none"}});
        RouteTable::from_json(
            &json!({"version": 1, "routes": [route]}).to_string(),
            options.clone(),
        )
    };
    let pattern = || json!({"detail": {"eventType": ["x"]}});
    let strict = LoadOptions::default();
    let listed = LoadOptions {
        allowed_hosts: LoadOptions::parse_allowed_hosts("*.corp.example, 10.1.2.3").unwrap(),
        ..Default::default()
    };
    let cases: [(&str, &str, &LoadOptions, Option<&str>); 17] = [
        (
            "instance metadata service",
            "https://169.254.169.254/latest/meta-data/",
            &strict,
            Some("host `169.254.169.254` is a link-local address"),
        ),
        (
            "metadata service as a decimal",
            "https://2852039166/",
            &strict,
            Some("host `169.254.169.254` is a link-local"),
        ),
        (
            "metadata service in hex",
            "https://0xA9FEA9FE/",
            &strict,
            Some("host `169.254.169.254` is a link-local"),
        ),
        (
            "IPv6 loopback",
            "https://[::1]/",
            &strict,
            Some("host `[::1]` is the loopback address"),
        ),
        (
            "IPv6 link-local",
            "https://[fe80::1]/",
            &strict,
            Some("host `[fe80::1]` is a link-local address"),
        ),
        (
            "IPv4-mapped loopback",
            "https://[::ffff:127.0.0.1]/",
            &strict,
            Some("is the loopback address"),
        ),
        (
            "private address",
            "https://10.0.0.1/flow",
            &strict,
            Some("host `10.0.0.1` is a private address"),
        ),
        (
            "localhost by name",
            "https://localhost/flow",
            &strict,
            Some("is the loopback interface"),
        ),
        (
            "internal host name",
            "https://jenkins.internal/flow",
            &strict,
            Some("host `jenkins.internal` is not an Okta Workflows host"),
        ),
        (
            "Workflows domain as a prefix",
            "https://acme.workflows.okta.com.evil.example/",
            &strict,
            Some("not an Okta Workflows host"),
        ),
        (
            "look-alike domain",
            "https://acme.evilworkflows.okta.com/",
            &strict,
            Some("not an Okta Workflows host"),
        ),
        (
            "the bare Workflows domain",
            "https://workflows.okta.com/",
            &strict,
            Some("not an Okta Workflows host"),
        ),
        (
            "credentials in the URL",
            "https://u:p@acme.workflows.okta.com/",
            &strict,
            Some("must not carry credentials"),
        ),
        (
            "plain http elsewhere",
            "http://acme.workflows.okta.com/",
            &strict,
            Some("must be https"),
        ),
        (
            "a listed domain's subdomain",
            "https://flows.corp.example/x",
            &listed,
            None,
        ),
        (
            "a listed domain itself is not its subdomain",
            "https://corp.example/x",
            &listed,
            Some("not an Okta Workflows host"),
        ),
        ("a listed address", "https://10.1.2.3/x", &listed, None),
    ];
    let attack_count = cases.len() + 4;
    for (name, endpoint, options, refused) in cases {
        match (table(endpoint, pattern(), options), refused) {
            (Ok(_), None) => println!("{name} | accepted (listed in AllowedEndpointHosts)"),
            (Err(error), Some(reason)) => {
                let said = error.to_string();
                assert!(
                    said.starts_with("route `r` (routes[0]).endpoint: "),
                    "{name}: {said}"
                );
                assert!(said.contains(reason), "{name}: {said}");
                println!("{name} | refused: {said}");
            }
            (outcome, expected) => panic!(
                "{name}: {:?} but expected refusal {expected:?}",
                outcome.map(|_| ())
            ),
        }
    }
    for endpoint in [
        "https://acme.workflows.okta.com/api/flo/1/invoke",
        "https://acme.workflows.oktapreview.com/api/flo/1/invoke",
        "https://acme.workflows.okta-emea.com/api/flo/1/invoke",
    ] {
        assert!(table(endpoint, pattern(), &strict).is_ok(), "{endpoint}");
    }
    // Patterns with duplicate keys mean different things to different readers: refused.
    let text = r#"{"version": 1, "routes": [{"name": "r", "pattern": {"detail": {"eventType": ["a"], "eventType": ["b"]}}, "endpoint": "https://acme.workflows.okta.com/x", "auth": {"scheme": "none"}}]}"#;
    let error = RouteTable::from_json(text, strict.clone())
        .unwrap_err()
        .to_string();
    assert!(error.contains("duplicate key `eventType`"), "{error}");
    println!("duplicate keys in a route's pattern | refused: {error}");
    // The same text as an EventBridge rule pattern (pattern test, EVENT_PATTERN, the provisioner).
    let error = event_pattern::Pattern::parse(r#"{"source": ["a"], "source": ["b"]}"#).unwrap_err();
    assert!(
        error.to_string().contains("duplicate key `source`"),
        "{error}"
    );
    println!("duplicate keys in a rule pattern | refused: {error}");
    // A huge table loads (indexed once), and its last route still matches.
    let routes: Vec<Value> = (0..20_000)
        .map(|i| json!({"name": format!("r{i}"), "pattern": {"detail": {"eventType": [format!("t{i}")]}},
                        "endpoint": "https://acme.workflows.okta.com/x", "auth": {"scheme": "none"}}))
        .collect();
    let table = RouteTable::from_json(&json!({"version": 1, "routes": routes}).to_string(), strict)
        .unwrap();
    let matched = table.matching(&json!({"detail": {"eventType": "t19999"}}));
    assert_eq!(
        matched.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        ["r19999"]
    );
    println!("20,000 routes | loaded and matched (indexed once)");
    // A bad allow-list is a configuration error, not an open door.
    for bad in ["*", "a/b", "*.", "exa mple.com", "*.10.0.0.1"] {
        assert!(LoadOptions::parse_allowed_hosts(bad).is_err(), "{bad}");
    }
    println!("AllowedEndpointHosts garbage (`*`, `a/b`, `*.`, spaces, `*.10.0.0.1`) | refused");
    okta_relay_e2e::report(format!(
        "hostile peers: {attack_count} route-table attacks held: every off-list host, address and ambiguous pattern refused with the route named"
    ));
}

/// A hostile "Okta": whatever it answers, the SSWS token goes to the org's origin and nowhere
/// else, and nothing it sends can hang or crash the client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_answers_and_saved_cursors_never_move_the_token() {
    use okta_api::{LogCursor, OktaClient, OktaError};
    use secrecy::SecretString;
    let elsewhere = HostilePeer::start(|_, _| ok()).await.unwrap();
    let elsewhere_url = elsewhere.url("");
    let okta = HostilePeer::start(move |seen: &Seen, _| {
        let page = |headers: &[(&str, &str)]| response("200 OK", headers, b"[]");
        match seen.target.split('?').next().unwrap_or_default() {
            "/api/v1/logs" if seen.target.contains("after=foreign") => {
                page(&[("content-type", "application/json")])
            }
            "/api/v1/logs" if seen.target.contains("link=foreign") => {
                let link = format!("<{elsewhere_url}/api/v1/logs?after=x>; rel=\"next\"");
                response("200 OK", &[("link", link.as_str())], b"[{}]")
            }
            "/api/v1/logs" if seen.target.contains("redirect") => {
                redirect("302 Found", &format!("{elsewhere_url}/api/v1/logs"))
            }
            "/api/v1/logs" if seen.target.contains("huge") => {
                let mut steps = response("200 OK", &[("content-length", "33554432")], b"");
                steps.push(Step::Repeat {
                    chunk: vec![b' '; 65536],
                    times: 512,
                });
                steps
            }
            "/api/v1/logs" if seen.target.contains("reset-max") => response(
                "429 Too Many Requests",
                &[
                    ("x-rate-limit-reset", "9223372036854775807"),
                    ("x-rate-limit-remaining", "0"),
                ],
                b"{}",
            ),
            "/api/v1/logs" if seen.target.contains("reset-negative") => response(
                "429 Too Many Requests",
                &[("x-rate-limit-reset", "-99999999999")],
                b"{}",
            ),
            "/api/v1/logs" if seen.target.contains("spent-forever") => page(&[
                ("x-rate-limit-remaining", "0"),
                ("x-rate-limit-reset", "253402300799"),
            ]),
            "/api/v1/logs" if seen.target.contains("not-json") => {
                response("200 OK", &[], b"<html>")
            }
            "/api/v1/logs" if seen.target.contains("links") => {
                let links = "<a>; rel=\"next\", ".repeat(10_000);
                response("200 OK", &[("link", links.as_str())], b"[]")
            }
            _ => response("404 Not Found", &[], b"{}"),
        }
    })
    .await
    .unwrap();
    let token = SecretString::from(OKTA_TOKEN);
    let policy = retry::RetryPolicy {
        first_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        max_attempts: 3,
        min_attempt_time: Duration::from_millis(50),
    };
    let client = OktaClient::with_base_url(okta.url("/").parse().unwrap(), &token)
        .unwrap()
        .with_budget(Duration::from_secs(5), policy);
    let client = &client;
    let page =
        |query: String| async move { client.system_log_page(&LogCursor::from_saved(&query)).await };
    type Check = fn(&Result<okta_api::LogPage, OktaError>) -> bool;
    let cases: Vec<(&str, String, Check)> = vec![
        (
            "a saved cursor that is a URL on another host",
            format!("{}/api/v1/users?after=foreign", elsewhere.url("")),
            |result| result.as_ref().is_ok_and(|page| page.events.is_empty()),
        ),
        (
            "a next link to another host",
            "link=foreign".into(),
            |result| matches!(result, Err(OktaError::UnexpectedResponse { reason, .. }) if reason.contains("another host")),
        ),
        (
            "a redirect to another host",
            "redirect".into(),
            |result| matches!(result, Err(OktaError::Redirected { redirect, .. }) if redirect.contains("HTTP 302")),
        ),
        (
            "a 32 MiB answer",
            "huge".into(),
            |result| matches!(result, Err(OktaError::Unreachable { reason, .. }) if reason.contains("larger than 16 MiB")),
        ),
        (
            "429 with X-Rate-Limit-Reset: 9223372036854775807",
            "reset-max".into(),
            |result| matches!(result, Err(OktaError::RateLimited { attempts: 3, .. })),
        ),
        (
            "429 with a reset far in the past",
            "reset-negative".into(),
            |result| matches!(result, Err(OktaError::RateLimited { .. })),
        ),
        (
            "a spent limit resetting in the year 9999",
            "spent-forever".into(),
            |result| result.is_ok(),
        ),
        ("an answer that is not JSON", "not-json".into(), |result| {
            matches!(result, Err(OktaError::UnexpectedResponse { .. }))
        }),
        ("10,000 garbage Link entries", "links".into(), |result| {
            result.is_ok()
        }),
    ];
    let attacks = cases.len();
    for (name, query, check) in cases {
        let result = tokio::time::timeout(Duration::from_secs(20), page(query))
            .await
            .unwrap_or_else(|_| panic!("{name}: the client hung"));
        assert!(
            check(&result),
            "{name}: {:?}",
            result.as_ref().map(|p| p.events.len())
        );
        let said = match &result {
            Ok(page) => format!("answered, {} events, no wait", page.events.len()),
            Err(error) => error.to_string(),
        };
        assert!(
            !said.contains(OKTA_TOKEN),
            "{name}: the token is in the error"
        );
        println!("{name} | {}", said.chars().take(160).collect::<String>());
    }
    assert!(
        elsewhere.seen().is_empty(),
        "the token left the org: {:?}",
        elsewhere.seen()
    );
    okta_relay_e2e::report(format!(
        "hostile peers: {attacks} Okta answers and saved cursors held: the SSWS token reached only the org's origin, no hang, no panic"
    ));
    for seen in okta.seen() {
        assert_eq!(
            seen.header("authorization"),
            Some(&*format!("SSWS {OKTA_TOKEN}"))
        );
        assert!(seen.target.starts_with("/api/v1/logs"), "{}", seen.target);
    }
}

/// Every CloudFormation request that names a usable ResponseURL is answered, whatever else it
/// lacks; the answer never follows a redirect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudformation_requests_are_always_answered() {
    use okta_relay_e2e::response_url::ResponseUrl;
    let responses = ResponseUrl::start(0).await.unwrap();
    let elsewhere = HostilePeer::start(|_, _| ok()).await.unwrap();
    let elsewhere_url = elsewhere.url("/steal");
    let redirecting =
        HostilePeer::start(move |_, _| redirect("307 Temporary Redirect", &elsewhere_url))
            .await
            .unwrap();
    let api = RuntimeApi::start().await.unwrap();
    let mut env = api.lambda_env("okta-relay-provisioner");
    env.extend(
        [
            ("RUST_LOG", "info"),
            ("OKTA_API_TOKEN_PARAMETER", OKTA_TOKEN_PARAMETER),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    let mut provisioner =
        FunctionProcess::spawn(&release_binary("provisioner").unwrap(), &env).unwrap();
    let request = |overrides: Value| {
        let mut request = json!({
            "RequestType": "Create", "RequestId": "req-1", "ResponseURL": responses.url(),
            "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1",
            "LogicalResourceId": "OktaLogStream", "ResourceType": "Custom::OktaLogStream",
            "ResourceProperties": {
                "OrgUrl": "https://example.okta.com", "LogStreamName": "okta-relay",
                "EventSourceName": "okta-relay", "AccountId": "123456789012", "Region": "us-east-1",
                "RuleName": "okta-relay", "EventPattern": "{\"source\": [\"a\"]}",
                "TargetArn": "arn:aws:sqs:us-east-1:123456789012:okta-relay-inbox",
                "DeadLetterQueueArn": "arn:aws:sqs:us-east-1:123456789012:dlq"
            }
        });
        for (key, value) in overrides.as_object().unwrap() {
            if value.is_null() {
                request.as_object_mut().unwrap().remove(key);
            } else {
                request[key] = value.clone();
            }
        }
        request
    };
    let cases = [
        (
            "no StackId",
            json!({"StackId": null}),
            "missing field `StackId`",
        ),
        (
            "RequestType Bogus",
            json!({"RequestType": "Bogus"}),
            "unknown variant `Bogus`",
        ),
        (
            "RequestType a number",
            json!({"RequestType": 7}),
            "invalid type",
        ),
        (
            "no RequestId",
            json!({"RequestId": null}),
            "missing field `RequestId`",
        ),
        (
            "an EventPattern with duplicate keys",
            json!({"ResourceProperties": {
                "OrgUrl": "https://example.okta.com", "LogStreamName": "okta-relay",
                "EventSourceName": "okta-relay", "AccountId": "123456789012", "Region": "us-east-1",
                "RuleName": "okta-relay", "EventPattern": "{\"source\": [\"a\"], \"source\": [\"b\"]}",
                "TargetArn": "arn:aws:sqs:us-east-1:123456789012:okta-relay-inbox",
                "DeadLetterQueueArn": "arn:aws:sqs:us-east-1:123456789012:dlq"
            }}),
            "duplicate key `source`",
        ),
    ];
    for (index, (name, overrides, reason)) in cases.iter().enumerate() {
        let outcome = api
            .invoke(
                request(overrides.clone()).to_string(),
                Duration::from_secs(30),
            )
            .await;
        assert!(
            matches!(outcome, Outcome::Response(_)),
            "{name}: {outcome:?}"
        );
        let answers = responses.bodies();
        let answer = &answers[index];
        assert_eq!(answer["Status"], "FAILED", "{name}: {answer}");
        let said = answer["Reason"].as_str().unwrap();
        assert!(said.contains(reason), "{name}: {said}");
        println!(
            "{name} | answered FAILED: {}",
            said.chars().take(140).collect::<String>()
        );
    }
    let outcome = api
        .invoke(
            request(json!({"ResponseURL": null})).to_string(),
            Duration::from_secs(30),
        )
        .await;
    let Outcome::Error(error) = outcome else {
        panic!("no ResponseURL: {outcome:?}")
    };
    let error = String::from_utf8_lossy(&error);
    assert!(error.contains("no ResponseURL"), "{error}");
    let reported: Value = serde_json::from_str(&error).unwrap();
    assert_eq!(reported["errorType"], "NotACustomResourceRequest");
    println!("no ResponseURL at all | invocation error (nothing to answer): {error}");
    let outcome = api
        .invoke(
            request(
                json!({"ResponseURL": redirecting.url("/cfn?X-Amz-Signature=s"), "StackId": null}),
            )
            .to_string(),
            Duration::from_secs(30),
        )
        .await;
    let Outcome::Error(error) = outcome else {
        panic!("redirecting ResponseURL: {outcome:?}")
    };
    let error = String::from_utf8_lossy(&error);
    let reported: Value = serde_json::from_str(&error).unwrap();
    assert_eq!(reported["errorType"], "ResponseNotDelivered");
    assert!(
        error.contains("redirects, and no redirect is followed"),
        "{error}"
    );
    assert!(
        !error.contains("X-Amz-Signature"),
        "the pre-signed query leaked: {error}"
    );
    assert!(
        elsewhere.seen().is_empty(),
        "the answer followed a redirect"
    );
    println!("a ResponseURL that redirects | not followed, invocation error: {error}");
    assert!(provisioner.is_running(), "{}", provisioner.log());
    okta_relay_e2e::report(format!(
        "hostile peers: {} CloudFormation requests held: every one with a ResponseURL answered FAILED with its reason, no redirect followed",
        cases.len() + 2
    ));
}

/// The operator CLI reads files and pipes without trusting them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_inputs_are_bounded_and_lose_nothing() {
    let cli = okta_relay_cli();
    let dir = tempfile::tempdir().unwrap();
    let mut events = vec![b'x'; 3 * 1024 * 1024];
    events.extend_from_slice(b"\n\xff\xfe not utf-8\n");
    events.extend_from_slice(sample_event().to_string().as_bytes());
    events.push(b'\n');
    let events_file = dir.path().join("events.jsonl");
    std::fs::write(&events_file, &events).unwrap();
    let pattern_file = dir.path().join("pattern.json");
    std::fs::write(&pattern_file, r#"{"source": [{"prefix": ""}]}"#).unwrap();

    let mut command = std::process::Command::new(&cli);
    command
        .args(["pattern", "test", "--pattern"])
        .arg(&pattern_file)
        .arg("--events")
        .arg(&events_file);
    let ran = okta_relay_e2e::command::run(command, &[]).await.unwrap();
    let lines: Vec<&str> = ran.stdout.lines().collect();
    assert_eq!(ran.code, 1, "{}", ran.text());
    assert!(
        lines[0].starts_with("error: the line is 3145728 bytes, over the 1048576-byte limit"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("error: event is not valid JSON"),
        "{}",
        lines[1]
    );
    assert_eq!(lines[2], "true");
    println!(
        "pattern test: a 3 MiB line, invalid UTF-8, then an event | one error line each, the event judged `true`, exit 1"
    );

    let routes_file = dir.path().join("routes.json");
    let sink = HostilePeer::start(|_, _| ok()).await.unwrap();
    std::fs::write(
        &routes_file,
        json!({"version": 1, "routes": [{"name": "all", "pattern": {"source": [{"prefix": ""}]},
               "endpoint": sink.url("/flow"), "auth": {"scheme": "none"}}]})
        .to_string(),
    )
    .unwrap();
    let letters_file = dir.path().join("letters.jsonl");
    let mut command = std::process::Command::new(&cli);
    command
        .args(["replay", "--allow-http-localhost", "--routes"])
        .arg(&routes_file)
        .arg("--dead-letters")
        .arg(&letters_file)
        .arg(&events_file);
    let ran = okta_relay_e2e::command::run(command, &[]).await.unwrap();
    assert_eq!(ran.code, 1, "{}", ran.text());
    let letters: Vec<Value> = std::fs::read_to_string(&letters_file)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(letters.len(), 2, "{letters:?}");
    assert!(
        letters[0]["reason"]
            .as_str()
            .unwrap()
            .contains("over the 1048576-byte limit")
    );
    assert_eq!(letters[0]["payloadBytes"], 1024 * 1024);
    assert!(
        letters[1]["reason"]
            .as_str()
            .unwrap()
            .starts_with("payload is not JSON")
    );
    assert_eq!(
        sink.seen_at("/flow").len(),
        1,
        "the readable event was still delivered"
    );
    println!(
        "replay: the same file | both bad lines dead-lettered with reasons, the event delivered, exit 1"
    );

    for (flag, value) in [
        ("--budget-seconds", "18446744073709551615"),
        ("--budget-seconds", "0"),
    ] {
        let mut command = std::process::Command::new(&cli);
        command
            .args(["replay", "--dry-run", "--routes"])
            .arg(&routes_file)
            .args([flag, value])
            .arg(&events_file);
        let ran = okta_relay_e2e::command::run(command, &[]).await.unwrap();
        assert_eq!(ran.code, 2, "{}", ran.text());
        assert!(ran.stderr.contains("1..=86400"), "{}", ran.stderr);
        println!("replay {flag} {value} | refused by the flag's range (1..=86400), exit 2");
    }
    okta_relay_e2e::report(
        "hostile peers: 4 operator-input attacks held: lines bounded at 1 MiB, bad lines reported or dead-lettered, the rest relayed"
            .to_owned(),
    );
}

/// The `okta-relay` binary beside this test's own (`cargo test --workspace` builds it).
fn okta_relay_cli() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let cli = exe.ancestors().nth(2).unwrap().join("okta-relay");
    assert!(
        cli.exists(),
        "{} is missing: build it with `cargo build -p okta-relay`",
        cli.display()
    );
    cli
}
