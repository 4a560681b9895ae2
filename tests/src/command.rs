//! The operator CLI run as a process from a test, on a blocking thread so the test's peers keep
//! serving meanwhile.

use std::process::Command;

/// What a finished command printed, and how it ended.
#[derive(Debug)]
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    /// Standard output then standard error.
    pub fn text(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// Runs `command` to its end. Fails when it cannot start, or when one of `secrets` appears in
/// what it printed (the failure does not repeat the secret).
pub async fn run(mut command: Command, secrets: &[&str]) -> Result<Ran, String> {
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .map_err(|error| error.to_string())?
        .map_err(|error| format!("cannot run the command: {error}"))?;
    let ran = Ran {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).to_string(),
        stderr: String::from_utf8_lossy(&output.stderr).to_string(),
    };
    if let Some(index) = secrets
        .iter()
        .position(|secret| ran.stdout.contains(secret) || ran.stderr.contains(secret))
    {
        return Err(format!("secret #{index} leaked into the command's output"));
    }
    Ok(ran)
}
