//! Build script: `PORTCULLIS_COMMIT`, the commit the binary is built from,
//! for the `portcullis_build_info` metric and `--version`. Taken from the
//! variable of that name when the build sets it (a tarball has no `.git`),
//! else from `git rev-parse`, else `unknown`. Runs a program, links no
//! library.

use std::process::Command;

fn main() {
    println!("cargo::rerun-if-env-changed=PORTCULLIS_COMMIT");
    println!("cargo::rerun-if-changed=build.rs");
    // HEAD and the branch it names, wherever git keeps them (a worktree's
    // `.git` is a file): a commit reruns this, nothing else does
    let branch = git(&["rev-parse", "--symbolic-full-name", "HEAD"]);
    for name in std::iter::once("HEAD".to_owned()).chain(branch) {
        if let Some(path) = git(&["rev-parse", "--git-path", &name]) {
            println!("cargo::rerun-if-changed={path}");
        }
    }
    let commit = std::env::var("PORTCULLIS_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo::rustc-env=PORTCULLIS_COMMIT={}", commit.trim());
}

/// What `git ARGS` prints, trimmed, when it succeeds.
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .filter(|c| !c.is_empty())
}
