//! The committed man pages and shell completions match what the tools generate from their clap
//! definitions; `scripts/gen-docs` regenerates them.

mod common;

use std::path::Path;
use std::process::Command;

fn generated(tool: &str, kind: &str) -> String {
    let output = Command::new(common::bin(tool))
        .args(["--generate", kind])
        .output()
        .unwrap();
    assert!(output.status.success(), "{tool} --generate {kind} failed");
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn committed_man_pages_and_completions_are_current() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for tool in common::TOOLS {
        for (kind, path) in [
            ("man", format!("man/{tool}.1")),
            ("complete-bash", format!("completions/bash/{tool}")),
            ("complete-zsh", format!("completions/zsh/_{tool}")),
            ("complete-fish", format!("completions/fish/{tool}.fish")),
        ] {
            let committed = std::fs::read_to_string(root.join(&path))
                .unwrap_or_else(|e| panic!("{path}: {e}; run scripts/gen-docs"));
            assert!(
                committed == generated(tool, kind),
                "{path} is stale: run scripts/gen-docs and commit the result"
            );
        }
    }
}

#[test]
fn every_tool_is_checked() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut bins: Vec<String> = std::fs::read_dir(root.join("src/bin"))
        .unwrap()
        .map(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_string()
        })
        .collect();
    bins.sort();
    let mut tools: Vec<String> = common::TOOLS.iter().map(|t| t.to_string()).collect();
    tools.sort();
    assert_eq!(bins, tools, "a tool in src/bin is missing from TOOLS");
}

#[test]
fn completions_are_valid_shell() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (shell, dir) in [("bash", "bash"), ("zsh", "zsh"), ("fish", "fish")] {
        if Command::new(shell).arg("--version").output().is_err() {
            eprintln!("{shell} is not installed: its syntax check is skipped");
            continue;
        }
        for entry in std::fs::read_dir(root.join("completions").join(dir)).unwrap() {
            let path = entry.unwrap().path();
            let status = Command::new(shell).arg("-n").arg(&path).status().unwrap();
            assert!(status.success(), "{shell} -n {} failed", path.display());
        }
    }
}
