//! Logs as Lambda's advanced logging controls set them (AWS Lambda developer guide, "Configuring
//! advanced logging controls for Lambda functions"): `AWS_LAMBDA_LOG_FORMAT` (`JSON` or `Text`,
//! the template's `LoggingConfig.LogFormat`) and `AWS_LAMBDA_LOG_LEVEL` (`TRACE` … `FATAL`,
//! `ApplicationLogLevel`), which wins over `RUST_LOG`. JSON lines carry the invocation's
//! `requestId` (from `lambda_runtime`'s span) and `coldStart` (see [`invocation_span`]) as
//! top-level fields, so CloudWatch Logs Insights filters on them directly.
//!
//! Only okta-relay's own crates ([`OWN_CRATES`]) log below `info`: every other crate (the HTTP
//! stack, rustls, the AWS SDK and its runtime) is held at `info`, because at debug and trace they
//! print request URLs and bodies, which can hold a client token (`?clientToken=`), an
//! `Authorization` header or a decrypted SecureString. An allow-list, so a crate added later is
//! held too.

use std::sync::atomic::{AtomicBool, Ordering};

use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;

/// The crates that may log below `info`: okta-relay's own (each is a target prefix).
pub const OWN_CRATES: [&str; 19] = [
    "relay",
    "relay_core",
    "relay_wiring",
    "watchdog",
    "redrive",
    "provisioner",
    "provisioning",
    "okta",
    "okta_api",
    "okta_relay",
    "aws_adapters",
    "workflows_client",
    "oauth",
    "okta_oauth",
    "outbound_http",
    "lambda_support",
    "event_pattern",
    "retry",
    "saturating_time",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Text,
}

/// How the functions log, from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    pub level: LevelFilter,
    pub format: LogFormat,
    /// A variable that could not be read, said once logging works.
    pub warning: Option<String>,
}

impl LogSettings {
    /// `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG` (a level), else `info`; `AWS_LAMBDA_LOG_FORMAT`,
    /// else JSON. Lambda's `FATAL` is `error` here (tracing has no higher level).
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Self {
        let mut warning = None;
        let level = match ["AWS_LAMBDA_LOG_LEVEL", "RUST_LOG"]
            .into_iter()
            .find_map(|name| Some((name, var(name).filter(|v| !v.trim().is_empty())?)))
        {
            None => LevelFilter::INFO,
            Some((name, value)) => parse_level(&value).unwrap_or_else(|| {
                warning = Some(format!(
                    "{name}={value:?} is not a level (TRACE, DEBUG, INFO, WARN, ERROR, FATAL); \
                     logging at INFO"
                ));
                LevelFilter::INFO
            }),
        };
        let format = match var("AWS_LAMBDA_LOG_FORMAT").as_deref().map(str::trim) {
            Some(text) if text.eq_ignore_ascii_case("text") => LogFormat::Text,
            Some(json) if json.is_empty() || json.eq_ignore_ascii_case("json") => LogFormat::Json,
            None => LogFormat::Json,
            Some(other) => {
                warning = Some(format!(
                    "AWS_LAMBDA_LOG_FORMAT={other:?} is neither JSON nor Text; logging JSON"
                ));
                LogFormat::Json
            }
        };
        Self {
            level,
            format,
            warning,
        }
    }
}

fn parse_level(text: &str) -> Option<LevelFilter> {
    match text.trim().to_ascii_lowercase().as_str() {
        "fatal" => Some(LevelFilter::ERROR),
        other => other.parse().ok(),
    }
}

/// `level` for [`OWN_CRATES`], at most `info` for everything else.
pub fn filter(level: LevelFilter) -> Targets {
    OWN_CRATES.iter().fold(
        Targets::new().with_default(level.min(LevelFilter::INFO)),
        |targets, target| targets.with_target(*target, level),
    )
}

/// The subscriber `settings` describe, writing to `writer`.
pub fn subscriber<W>(
    settings: &LogSettings,
    writer: W,
) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    let registry = tracing_subscriber::registry().with(filter(settings.level));
    match settings.format {
        LogFormat::Json => {
            let mut json = json_subscriber::JsonLayer::new(writer);
            json.with_timer("timestamp", tracing_subscriber::fmt::time::SystemTime)
                .with_level("level")
                .with_flattened_event()
                .with_top_level_flattened_span_list();
            Box::new(registry.with(json))
        }
        LogFormat::Text => Box::new(
            registry.with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_target(false)
                    .with_writer(writer),
            ),
        ),
    }
}

/// Logs for a Lambda function, to stdout, as the process environment says.
pub fn init_logs() {
    let settings = LogSettings::from_env(|name| std::env::var(name).ok());
    let warning = settings.warning.clone();
    // A second call (tests) keeps the first subscriber.
    let _ = tracing::subscriber::set_global_default(subscriber(&settings, std::io::stdout));
    if let Some(warning) = warning {
        tracing::warn!(outcome = "log_settings", "{warning}");
    }
}

static WARM: AtomicBool = AtomicBool::new(false);

/// The span an invocation's work runs in: `coldStart` is true for the first invocation of the
/// process (the one that paid for its init), false after. `lambda_runtime` puts each invocation
/// in a span with its `requestId` around this one.
pub fn invocation_span() -> tracing::Span {
    let cold = !WARM.swap(true, Ordering::Relaxed);
    tracing::info_span!("invocation", coldStart = cold)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use serde_json::Value;

    use super::*;

    #[test]
    fn every_workspace_crate_a_function_can_link_is_on_the_allow_list() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let workspace = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
        let members = workspace
            .lines()
            .skip_while(|line| !line.starts_with("members"))
            .take_while(|line| !line.starts_with(']'))
            .filter_map(|line| line.trim().strip_prefix('"')?.split('"').next());
        for member in members {
            let manifest = std::fs::read_to_string(root.join(member).join("Cargo.toml")).unwrap();
            let name = manifest
                .lines()
                .find_map(|line| line.strip_prefix("name = \""))
                .and_then(|rest| rest.split('"').next())
                .unwrap()
                .replace('-', "_");
            // The test harness is never part of a function.
            if name != "okta_relay_e2e" {
                assert!(
                    OWN_CRATES.contains(&name.as_str()),
                    "{name} is not in OWN_CRATES"
                );
            }
        }
    }

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    fn settings(vars: &[(&str, &str)]) -> LogSettings {
        LogSettings::from_env(|name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_string())
        })
    }

    /// Logs what an invocation typically logs, under `settings`; answers the output.
    fn run(settings: &LogSettings) -> String {
        let buffer = Buffer::default();
        tracing::subscriber::with_default(subscriber(settings, buffer.clone()), || {
            let runtime = tracing::info_span!("Lambda runtime invoke", requestId = "req-1");
            runtime.in_scope(|| {
                tracing::info_span!("invocation", coldStart = true).in_scope(|| {
                    tracing::debug!(target: "relay_core::inbox", outcome = "paced", "ours");
                    tracing::info!(target: "relay_core::inbox", outcome = "delivered", "ours too");
                    tracing::warn!(target: "relay::handler", outcome = "retry", "a warning");
                    tracing::debug!(target: "hyper_util::client", "GET https://x/?clientToken=SECRET");
                    tracing::trace!(target: "aws_smithy_runtime::client", "Authorization: SECRET");
                    tracing::info!(target: "aws_config::imds", "an SDK line at info");
                });
            });
        });
        let bytes = buffer.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
        String::from_utf8(bytes).unwrap_or_default()
    }

    #[test]
    fn json_lines_carry_the_request_id_and_cold_start_at_the_top_level() {
        let output = run(&settings(&[("AWS_LAMBDA_LOG_FORMAT", "JSON")]));
        let lines: Vec<Value> = output
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_default())
            .collect();
        assert_eq!(lines.len(), 3, "{output}");
        for line in &lines {
            assert_eq!(line["requestId"], "req-1", "{line}");
            assert_eq!(line["coldStart"], true, "{line}");
            assert!(line["timestamp"].is_string(), "{line}");
        }
        assert_eq!(lines[0]["level"], "INFO");
        assert_eq!(lines[0]["outcome"], "delivered");
        assert_eq!(lines[0]["message"], "ours too");
        assert_eq!(lines[1]["level"], "WARN");
        assert_eq!(lines[2]["message"], "an SDK line at info");
    }

    #[test]
    fn lambda_s_level_wins_over_rust_log_and_only_our_crates_go_below_info() {
        let debug = run(&settings(&[
            ("AWS_LAMBDA_LOG_LEVEL", "DEBUG"),
            ("RUST_LOG", "error"),
        ]));
        assert!(debug.contains("\"outcome\":\"paced\""), "{debug}");
        assert!(
            !debug.contains("SECRET"),
            "the HTTP and SDK crates stay at info: {debug}"
        );
        let trace = run(&settings(&[("RUST_LOG", "trace")]));
        assert!(trace.contains("\"outcome\":\"paced\""), "{trace}");
        assert!(!trace.contains("SECRET"), "{trace}");
        let warn = run(&settings(&[("AWS_LAMBDA_LOG_LEVEL", "WARN")]));
        assert_eq!(warn.lines().count(), 1, "{warn}");
        assert!(warn.contains("\"level\":\"WARN\""), "{warn}");
        let fatal = run(&settings(&[("AWS_LAMBDA_LOG_LEVEL", "FATAL")]));
        assert_eq!(fatal, "", "FATAL keeps errors only");
    }

    #[test]
    fn text_format_keeps_the_request_id_in_the_span_context() {
        let text = run(&settings(&[("AWS_LAMBDA_LOG_FORMAT", "Text")]));
        let first = text.lines().next().unwrap_or_default();
        assert!(first.contains(" INFO "), "{first}");
        assert!(
            first.contains("requestId=\"req-1\"") || first.contains("requestId=req-1"),
            "{first}"
        );
        assert!(first.contains("coldStart=true"), "{first}");
        assert!(
            serde_json::from_str::<Value>(first).is_err(),
            "plain text: {first}"
        );
    }

    #[test]
    fn unreadable_settings_fall_back_and_say_so() {
        let odd = settings(&[
            ("AWS_LAMBDA_LOG_LEVEL", "LOUD"),
            ("AWS_LAMBDA_LOG_FORMAT", "yaml"),
        ]);
        assert_eq!(
            (odd.level, odd.format),
            (LevelFilter::INFO, LogFormat::Json)
        );
        assert!(odd.warning.is_some());
        let default = settings(&[]);
        assert_eq!(
            (default.level, default.format),
            (LevelFilter::INFO, LogFormat::Json)
        );
        assert_eq!(default.warning, None);
    }

    #[test]
    fn only_the_first_invocation_is_cold() {
        let buffer = Buffer::default();
        tracing::subscriber::with_default(subscriber(&settings(&[]), buffer.clone()), || {
            for _ in 0..2 {
                invocation_span().in_scope(|| tracing::info!(target: "relay", "x"));
            }
        });
        let bytes = buffer.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let text = String::from_utf8(bytes).unwrap_or_default();
        let colds: Vec<bool> = text
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter_map(|line| line["coldStart"].as_bool())
            .collect();
        assert_eq!(colds, [true, false]);
    }
}
