//! The `okta-relay pattern` output contract, checked against the real binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn okta_relay(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_okta-relay"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The CLI may exit (invalid pattern) before reading its input: a broken pipe is expected then.
    if let Err(e) = child.stdin.take().unwrap().write_all(stdin) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    child.wait_with_output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `okta-relay pattern SUBCOMMAND --pattern PATH [extra...]`, with `stdin` as standard input.
fn pattern_cmd(
    subcommand: &str,
    pattern: &tempfile::NamedTempFile,
    extra: &[&str],
    stdin: &[u8],
) -> Output {
    let mut args = vec![
        "pattern",
        subcommand,
        "--pattern",
        pattern.path().to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    okta_relay(&args, stdin)
}

fn check(pattern: &tempfile::NamedTempFile, extra: &[&str]) -> Output {
    pattern_cmd("check", pattern, extra, b"")
}

fn test(pattern: &tempfile::NamedTempFile, extra: &[&str], stdin: &[u8]) -> Output {
    pattern_cmd("test", pattern, extra, stdin)
}

fn pattern_file(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(text.as_bytes()).unwrap();
    file
}

const SESSION_FAILURES: &str =
    r#"{"detail": {"eventType": ["user.session.start"], "outcome": {"result": ["FAILURE"]}}}"#;

#[test]
fn test_prints_one_line_per_event_in_order_and_exits_zero() {
    let pattern = pattern_file(SESSION_FAILURES);
    let events = concat!(
        r#"{"detail": {"eventType": "user.session.start", "outcome": {"result": "FAILURE"}}}"#,
        "\n",
        r#"{"detail": {"eventType": "user.session.start", "outcome": {"result": "SUCCESS"}}}"#,
        "\n",
        r#"{"detail": {"eventType": "user.session.start", "outcome": {"result": "FAILURE"}}}"#,
        "\r\n",
    );
    let out = test(&pattern, &[], events.as_bytes());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "true\nfalse\ntrue\n"
    );
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn test_reports_bad_lines_and_keeps_going_then_exits_one() {
    let pattern = pattern_file(SESSION_FAILURES);
    let mut events = Vec::new();
    events.extend_from_slice(b"not json\n");
    events.extend_from_slice(b"[1, 2]\n");
    events.extend_from_slice(b"\n");
    events.extend_from_slice(b"{\"detail\": \"\xff\xfe\"}\n");
    events.extend_from_slice(
        br#"{"detail": {"eventType": "user.session.start", "outcome": {"result": "FAILURE"}}}"#,
    );
    let out = test(&pattern, &["--events", "-"], &events);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{stdout}");
    assert!(
        lines[0].starts_with("error: event is not valid JSON"),
        "{}",
        lines[0]
    );
    assert_eq!(lines[1], "error: event must be a JSON object, not an array");
    assert!(
        lines[2].starts_with("error: event is not valid JSON"),
        "{}",
        lines[2]
    );
    assert!(
        lines[3].starts_with("error: event is not valid JSON"),
        "{}",
        lines[3]
    );
    assert_eq!(lines[4], "true");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn test_reads_events_from_a_file() {
    let pattern = pattern_file(r#"{"detail": {"eventType": [{"prefix": "user."}]}}"#);
    let samples = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../samples/eventbridge-events.jsonl"
    );
    let out = test(&pattern, &["--events", samples], b"");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout,
        "true\ntrue\ntrue\ntrue\nfalse\ntrue\nfalse\nfalse\nfalse\nfalse\n"
    );
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn invalid_pattern_exits_two_with_the_reason_on_stderr_and_nothing_on_stdout() {
    let pattern = pattern_file(r#"{"detail": {"eventType": [{"prefix": 5}]}}"#);
    let out = test(&pattern, &[], b"{}\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("invalid event pattern at detail.eventType[0].prefix: `prefix` takes"),
        "{stderr}"
    );
}

#[test]
fn missing_files_are_clear_errors() {
    let out = okta_relay(
        &["pattern", "check", "--pattern", "/nonexistent/pattern.json"],
        b"",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("cannot read pattern file /nonexistent/pattern.json"));
    let pattern = pattern_file(SESSION_FAILURES);
    let out = test(&pattern, &["--events", "/nonexistent/events"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("cannot read events file /nonexistent/events"));
}

#[test]
fn check_validates_only() {
    let out = check(&pattern_file(SESSION_FAILURES), &[]);
    assert_eq!(
        (out.status.code(), String::from_utf8(out.stdout).unwrap()),
        (Some(0), "valid\n".to_owned())
    );
    let out = check(
        &pattern_file(r#"{"n": [{"numeric": [">", 10, "<", 5]}]}"#),
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("can never match"));
}

#[test]
fn relay_route_flag_lifts_the_rule_size_quota() {
    let values: Vec<String> = (0..300).map(|i| format!("\"t{i:04}\"")).collect();
    let pattern = pattern_file(&format!(
        "{{\"detail\": {{\"eventType\": [{}]}}}}",
        values.join(",")
    ));
    let out = check(&pattern, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("over the limit of 2048"),
        "{}",
        stderr(&out)
    );
    assert_eq!(check(&pattern, &["--relay-route"]).status.code(), Some(0));
}
