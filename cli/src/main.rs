//! `okta-relay`: the operator CLI.

mod auth;
mod backfill;
mod doctor;
mod input;
mod okta_access;
mod output;
mod pattern;
mod provision;
mod redrive;
mod replay;
mod replay_archive;
mod route_source;
mod sink;
mod stack;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// The version and the git revision it was built from (`build.rs`).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("OKTA_RELAY_REVISION"),
    ")"
);

/// Operator CLI for okta-relay: test event patterns offline, run the relay locally, provision.
#[derive(Parser)]
#[command(version = VERSION, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// How summaries are printed: tables for a person, one JSON document for a script.
    #[arg(long, global = true, value_enum, default_value_t = output::Output::Table)]
    output: output::Output,
}

#[derive(Subcommand)]
enum Command {
    /// Test and validate EventBridge event patterns offline.
    #[command(subcommand)]
    Pattern(pattern::PatternCommand),
    /// Run the relay pipeline over a file of Okta events, outside Lambda.
    Replay(replay::ReplayArgs),
    /// A local stand-in for Workflows API endpoints: prints and records what it receives.
    Sink(sink::SinkArgs),
    /// Set up, inspect or tear down the Okta log stream, partner event bus, rule and target.
    #[command(subcommand)]
    Provision(provision::ProvisionCommand),
    /// Put dead-lettered events back in the inbox for the routes they still owe; delete each
    /// letter once the inbox has it.
    Redrive(redrive::RedriveArgs),
    /// Relay a window of the System Log (an outage Okta did not stream) through the routes.
    Backfill(backfill::BackfillArgs),
    /// Replay a window from the partner bus's EventBridge archive to the rule to the relay.
    ReplayArchive(replay_archive::ReplayArchiveArgs),
    /// Check a deployed stack's whole path, from Okta to each flow's host; exit 0 only when
    /// events can flow end to end.
    Doctor(doctor::DoctorArgs),
    /// OAuth 2.0 for Okta: the public key to register on the API service app.
    #[command(subcommand)]
    Auth(auth::AuthCommand),
    /// Print a shell completion script (`make install` puts them where shells look).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff, section 1).
    Man,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    output::choose(cli.output);
    match cli.command {
        Command::Pattern(command) => command.run(),
        Command::Replay(args) => run_async(replay::run(args)),
        Command::Sink(args) => run_async(sink::run(args)),
        Command::Provision(command) => run_async(provision::run(command)),
        Command::Redrive(args) => run_async(redrive::run(args)),
        Command::Backfill(args) => run_async(backfill::run(args)),
        Command::ReplayArchive(args) => run_async(replay_archive::run(args)),
        Command::Auth(command) => run_async(command.run()),
        Command::Doctor(args) => run_async(doctor::run(args)),
        Command::Completions { shell } => {
            let mut command = Cli::command();
            clap_complete::generate(shell, &mut command, "okta-relay", &mut std::io::stdout());
            ExitCode::SUCCESS
        }
        Command::Man => {
            match clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("error: cannot write the manual page: {error}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn run_async(command: impl std::future::Future<Output = anyhow::Result<ExitCode>>) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(command) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
