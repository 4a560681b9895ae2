//! The release Lambda binaries as separate processes, with the environment Lambda gives them.
//! `make test` runs the very bootstraps `sam build` made for deployment
//! (`OKTA_RELAY_FUNCTIONS_DIR=.aws-sam/build`); without that variable, `target/release/<name>`
//! (`cargo build --release -p relay -p provisioner -p watchdog -p redrive`).

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// Where `sam build` put the functions: `<dir>/<LogicalId>/bootstrap`.
pub const FUNCTIONS_DIR_VARIABLE: &str = "OKTA_RELAY_FUNCTIONS_DIR";

/// The function `name` (`relay`, `provisioner`, `watchdog`, `redrive`) as built for release.
pub fn release_binary(name: &str) -> Result<PathBuf, String> {
    let binary = match std::env::var_os(FUNCTIONS_DIR_VARIABLE) {
        Some(dir) => PathBuf::from(dir)
            .join(format!("{}Function", capitalized(name)))
            .join("bootstrap"),
        None => target_release_dir()?.join(name),
    };
    if binary.exists() {
        Ok(binary)
    } else {
        Err(format!(
            "{} is missing: run `make build` (sam build) with {FUNCTIONS_DIR_VARIABLE} set, as \
             `make test` does, or `cargo build --release -p relay -p provisioner -p watchdog -p redrive`",
            binary.display()
        ))
    }
}

fn capitalized(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// `target/release` beside the target directory this test runs from.
fn target_release_dir() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    // target/<profile>/deps/<test binary>
    exe.ancestors()
        .nth(3)
        .map(|target| target.join("release"))
        .ok_or_else(|| format!("cannot find the target directory from {}", exe.display()))
}

/// A function process, killed on drop; stdout and stderr (its JSON logs) go to a temp file.
pub struct FunctionProcess {
    child: Child,
    log: tempfile::NamedTempFile,
}

impl FunctionProcess {
    pub fn spawn(binary: &PathBuf, env: &[(String, String)]) -> Result<Self, String> {
        let log = tempfile::NamedTempFile::new().map_err(|e| e.to_string())?;
        let output = || log.reopen().map(Stdio::from).map_err(|e| e.to_string());
        let child = Command::new(binary)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(output()?)
            .stderr(output()?)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        Ok(Self { child, log })
    }

    /// Everything the process printed so far.
    pub fn log(&self) -> String {
        let mut text = String::new();
        if let Ok(mut file) = self.log.reopen() {
            let _ = file.read_to_string(&mut text);
        }
        text
    }

    /// The most memory the process has held (`VmHWM`, KiB), on Linux.
    pub fn peak_memory_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// Still running (a crash would have ended it).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for FunctionProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // A failing test keeps the function's log for whoever reads the failure.
        if std::thread::panicking() {
            let kept =
                std::env::temp_dir().join(format!("okta-relay-function-{}.log", self.child.id()));
            if std::fs::copy(self.log.path(), &kept).is_ok() {
                eprintln!("function log kept at {}", kept.display());
            }
        }
    }
}
