//! What `okta-relay` says about itself: `--version` (the release and the git revision it was
//! built from), shell completions and the manual page, generated from its clap definitions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

use std::process::Command;

fn okta_relay(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_okta-relay"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn version_names_the_release_and_the_git_revision() {
    let line = okta_relay(&["--version"]).trim().to_owned();
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

#[test]
fn completions_cover_every_command_for_each_shell() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let script = okta_relay(&["completions", shell]);
        for command in ["pattern", "replay", "provision", "redrive", "backfill"] {
            assert!(script.contains(command), "{shell}: {command} missing");
        }
    }
    assert!(okta_relay(&["completions", "bash"]).contains("--inbox-queue-url"));
}

#[test]
fn the_manual_page_is_roff_and_lists_the_commands() {
    let page = okta_relay(&["man"]);
    assert!(
        page.starts_with(".ie") || page.contains(".TH okta-relay 1"),
        "{page}"
    );
    assert!(page.contains(".TH okta-relay 1"));
    for command in ["pattern", "replay", "provision", "redrive", "backfill"] {
        assert!(page.contains(command), "{command} missing");
    }
}
