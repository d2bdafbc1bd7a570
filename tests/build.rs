//! Makes the database tests' skips visible in a plain `cargo test`.
//!
//! A database test cannot run without its server's URL. Rather than return early and be
//! counted as passed, it carries `#[cfg_attr(no_postgres, ignore = "…")]` (or
//! `no_mysql`, or both): this script sets `no_postgres` when `TEST_POSTGRES_URL` is not
//! set and `no_mysql` when `TEST_MYSQL_URL` is not, so libtest reports those tests as
//! ignored with the reason, and cargo prints one warning naming the missing variables
//! and how many tests each one gates.
//!
//! Under `CI=true` nothing is set: the tests run, and a missing URL fails them
//! (`tests/src/db.rs`): CI never skips.

use std::path::Path;

/// (variable, cfg name) for each server.
const SERVERS: [(&str, &str); 2] = [
    ("TEST_POSTGRES_URL", "no_postgres"),
    ("TEST_MYSQL_URL", "no_mysql"),
];

fn main() {
    println!("cargo::rerun-if-env-changed=CI");
    for (variable, cfg) in SERVERS {
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        println!("cargo::rerun-if-env-changed={variable}");
    }
    let ci = std::env::var("CI").is_ok_and(|value| value == "true" || value == "1");
    if ci {
        return;
    }
    let sources = test_sources();
    let mut missing = Vec::new();
    for (variable, cfg) in SERVERS {
        if std::env::var(variable).is_ok_and(|url| !url.is_empty()) {
            continue;
        }
        println!("cargo::rustc-cfg={cfg}");
        // Each gated test carries the reason `set … {variable} … to run`, on one line
        // however rustfmt lays the attribute out.
        let gated = sources
            .iter()
            .flat_map(|source| source.lines())
            .filter(|line| line.contains("ignore = \"set ") && line.contains(variable))
            .count();
        if gated > 0 {
            missing.push(format!("{variable} is not set: {gated} tests ignored"));
        }
    }
    if !missing.is_empty() {
        // The counts read the test files: only then must an edited test file rerun this
        // script (a rerun rebuilds every test binary of the package, so a developer with
        // both URLs set does not pay for it on each edit).
        println!("cargo::rerun-if-changed=tests");
        println!(
            "cargo::warning={} (they need a database server; see README: Set-up)",
            missing.join("; ")
        );
    }
}

/// The text of every integration test file of this package: `tests/*.rs` and the
/// modules of the test binaries in `tests/*/`.
fn test_sources() -> Vec<String> {
    let mut sources = Vec::new();
    let mut directories = vec![Path::new("tests").to_path_buf()];
    while let Some(directory) = directories.pop() {
        let Ok(entries) = std::fs::read_dir(&directory) else {
            continue;
        };
        for path in entries.filter_map(Result::ok).map(|entry| entry.path()) {
            if path.is_dir() {
                directories.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs")
                && let Ok(source) = std::fs::read_to_string(&path)
            {
                sources.push(source);
            }
        }
    }
    sources
}
