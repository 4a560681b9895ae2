//! `okta-relay --version`: the release and the git revision it was built from.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

use std::process::Command;

#[test]
fn version_names_the_release_and_the_git_revision() {
    let out = Command::new(env!("CARGO_BIN_EXE_okta-relay"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let expected = format!("okta-relay {} (", env!("CARGO_PKG_VERSION"));
    assert!(line.starts_with(&expected), "{line}");
    let revision = line[expected.len()..].trim_end_matches(')');
    let commit = revision.trim_end_matches("+dirty");
    assert!(
        revision == "unknown"
            || (commit.len() == 12 && commit.chars().all(|c| c.is_ascii_hexdigit())),
        "{line}"
    );
}
