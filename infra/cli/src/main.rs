//! `okta-relay`: the operator CLI.

mod pattern;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Operator CLI for okta-relay: test event patterns offline, run the relay locally, provision.
#[derive(Parser)]
#[command(version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Test and validate EventBridge event patterns offline.
    #[command(subcommand)]
    Pattern(pattern::PatternCommand),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Pattern(command) => command.run(),
    }
}
