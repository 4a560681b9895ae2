//! `okta-relay pattern test|check`: EventBridge's "Test pattern", offline.
//!
//! Output contract (other tools rely on it): `test` prints exactly one line per input line,
//! `true`, `false` or `error: <reason>`, in order. Exit status: 0 when every line was judged,
//! 1 when any line was not a JSON object (or the events could not be read), 2 when the pattern
//! is invalid or unreadable (reason on stderr, nothing on stdout).

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use event_pattern::{Limits, Pattern};

use crate::input::{Line, next_line};

#[derive(Subcommand)]
pub enum PatternCommand {
    /// Print `true` or `false` for each JSON event (one per line) read from --events or stdin.
    Test {
        #[command(flatten)]
        pattern: PatternArgs,
        /// File of JSON events, one per line; `-` or absent reads stdin.
        #[arg(long, value_name = "FILE")]
        events: Option<PathBuf>,
    },
    /// Validate a pattern only: prints `valid` or the reason it is invalid.
    Check {
        #[command(flatten)]
        pattern: PatternArgs,
    },
}

#[derive(Args)]
pub struct PatternArgs {
    /// File holding the event pattern (JSON).
    #[arg(long, value_name = "FILE")]
    pattern: PathBuf,
    /// Apply the relay's route-filter limits (64 KiB) instead of EventBridge's rule quota
    /// (2,048 characters).
    #[arg(long)]
    relay_route: bool,
}

const EXIT_LINE_ERROR: u8 = 1;
const EXIT_INVALID_PATTERN: u8 = 2;

impl PatternCommand {
    pub fn run(self) -> ExitCode {
        match self {
            PatternCommand::Check { pattern } => match pattern.load() {
                Ok(_) => {
                    println!("valid");
                    ExitCode::SUCCESS
                }
                Err(reason) => invalid_pattern(&reason),
            },
            PatternCommand::Test { pattern, events } => {
                let pattern = match pattern.load() {
                    Ok(pattern) => pattern,
                    Err(reason) => return invalid_pattern(&reason),
                };
                let stdout = io::stdout().lock();
                let result = match events.as_deref().filter(|path| *path != Path::new("-")) {
                    None => judge_lines(&pattern, io::stdin().lock(), stdout),
                    Some(path) => File::open(path)
                        .map_err(|e| {
                            io::Error::new(
                                e.kind(),
                                format!("cannot read events file {}: {e}", path.display()),
                            )
                        })
                        .and_then(|file| judge_lines(&pattern, BufReader::new(file), stdout)),
                };
                match result {
                    Ok(0) => ExitCode::SUCCESS,
                    Ok(_) => ExitCode::from(EXIT_LINE_ERROR),
                    Err(e) => {
                        eprintln!("okta-relay: {e}");
                        ExitCode::from(EXIT_LINE_ERROR)
                    }
                }
            }
        }
    }
}

impl PatternArgs {
    fn load(&self) -> Result<Pattern, String> {
        let text = crate::input::read_to_string(&self.pattern)
            .map_err(|e| format!("cannot read pattern file {}: {e}", self.pattern.display()))?;
        let limits = if self.relay_route {
            Limits::RELAY_ROUTE
        } else {
            Limits::EVENTBRIDGE_RULE
        };
        Pattern::parse_with_limits(&text, limits)
            .map_err(|e| format!("{}: {e}", self.pattern.display()))
    }
}

fn invalid_pattern(reason: &str) -> ExitCode {
    eprintln!("okta-relay: {reason}");
    ExitCode::from(EXIT_INVALID_PATTERN)
}

/// Judges each input line and returns how many lines could not be judged. Lines are raw bytes
/// read up to [`MAX_LINE_BYTES`](crate::input::MAX_LINE_BYTES) (invalid UTF-8 or an endless line is that line's error, not
/// the run's), and read the way the relay reads events: duplicate keys are an error, `time` and
/// every other field are matched as written.
fn judge_lines(
    pattern: &Pattern,
    mut input: impl BufRead,
    mut output: impl Write,
) -> io::Result<usize> {
    let mut errors = 0;
    while let Some(line) = next_line(&mut input)? {
        let verdict = match line {
            Line::TooLong { bytes, .. } => Err(Line::too_long_reason(bytes)),
            Line::Whole(event) => Pattern::read_event(&event)
                .map(|value| pattern.matches_value(&value))
                .map_err(|error| error.to_string()),
        };
        match verdict {
            Ok(matched) => writeln!(output, "{matched}")?,
            Err(reason) => {
                errors += 1;
                writeln!(output, "error: {reason}")?;
            }
        }
    }
    output.flush()?;
    Ok(errors)
}
