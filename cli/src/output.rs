//! `--output table|json`, one option for every command (global): tables and sentences for a
//! person, one JSON document on stdout for a script. Progress and notes go to stderr either way.

use std::sync::OnceLock;

#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Output {
    #[default]
    Table,
    Json,
}

static CHOSEN: OnceLock<Output> = OnceLock::new();

/// Set once, from the command line, before a command runs.
pub fn choose(output: Output) {
    let _ = CHOSEN.set(output);
}

/// Whether the summary is printed as JSON.
pub fn json() -> bool {
    CHOSEN.get().copied().unwrap_or_default() == Output::Json
}
