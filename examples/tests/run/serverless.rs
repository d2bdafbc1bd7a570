//! The `serverless` example as a process: many invocations, one connection.
//!
//! The binary is the example `cargo test` builds beside this test
//! (`tests::example_run::example("serverless")`).

use std::{
    process::{Command, Stdio},
    time::Duration,
};

use pool_sqlx::{Config, Preset};
use tests::example_run::{refused_port, run_bounded};

#[test]
fn serverless_invocations_share_one_lazily_opened_connection() {
    let invocations = 12;
    let mut child = Command::new(tests::example_run::example("serverless"))
        .args(["--invocations", &invocations.to_string()])
        .env_remove("DATABASE_URL")
        .env_remove("POOL_PRESET")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the serverless binary starts");
    // Read stdout on a thread (so a full pipe never blocks the child) while polling the
    // exit status; kill the child if it overstays.
    let mut pipe = child.stdout.take().expect("stdout is piped");
    let reader = std::thread::spawn(move || {
        let mut stdout = String::new();
        std::io::Read::read_to_string(&mut pipe, &mut stdout).map(|_| stdout)
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("the exit status is readable") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("serverless did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = reader
        .join()
        .expect("the reader does not panic")
        .expect("stdout is readable");
    assert!(status.success(), "exit status {status}:\n{stdout}");

    // The cold start opens nothing; the first invocation opens the one connection.
    assert!(
        stdout.contains("cold start: process-wide pool `db` ready: at most 1 connection, 0 open"),
        "{stdout}"
    );
    assert!(stdout.contains("preset: serverless"), "{stdout}");
    // Every invocation ran, in order, on the same counter.
    assert!(
        stdout.contains(&format!("count = {invocations} ")),
        "the last invocation counts {invocations}:\n{stdout}"
    );
    // One connection for all of them.
    assert!(
        stdout.contains(&format!("after {invocations} invocations")),
        "{stdout}"
    );
    assert!(
        stdout.contains("connections created: 1 (1 open, 1 idle)"),
        "{stdout}"
    );
    for line in stdout.lines().filter(|line| line.starts_with("invocation")) {
        assert!(
            line.ends_with("connections created so far: 1"),
            "every invocation ran on the first connection: {line}"
        );
    }
}

/// Slack on top of a timeout for the process to start and exit.
const MARGIN: Duration = Duration::from_secs(3);

fn serverless() -> std::process::Command {
    let mut command = std::process::Command::new(tests::example_run::example("serverless"));
    command.env_remove("POOL_PRESET").env_remove("RUST_LOG");
    command
}

/// The pool is lazy by design: the cold start opens nothing, so a mistyped port shows in
/// the first invocation, which fails once the preset's acquire timeout has passed (the
/// schema step is not retried: the platform retries a failed invocation) and ends the
/// program with the error, in its `Display` form, as the last line on stderr.
#[test]
fn a_refused_database_fails_the_first_invocation_within_the_acquire_timeout() {
    let url = format!("postgres://postgres@127.0.0.1:{}/test", refused_port());
    let acquire_timeout = Config::from_url(&url)
        .expect("a valid URL")
        .with_preset(Preset::Serverless)
        .settings()
        .acquire_timeout;
    let mut command = serverless();
    command.env("DATABASE_URL", &url);
    let run = run_bounded(command, acquire_timeout * 4 + Duration::from_secs(30));
    eprintln!(
        "serverless, refused port: exit {} after {:?}, {} stderr line(s)",
        run.status,
        run.took,
        run.stderr_lines().len()
    );
    assert_eq!(run.status.code(), Some(1), "{run:#?}");
    assert!(
        run.took <= acquire_timeout + MARGIN,
        "took {:?} (acquire timeout {acquire_timeout:?})",
        run.took
    );
    let lines = run.stderr_lines();
    let last = lines.last().copied().unwrap_or_default();
    assert!(last.starts_with("error: "), "{lines:#?}");
    assert!(last.to_lowercase().contains("refused"), "{lines:#?}");
}

/// The first invocation's connect attempts log one warning (identical connect warnings
/// are rate-limited), then the error line.
#[test]
fn a_refused_database_prints_at_most_one_warning_and_the_error() {
    let url = format!("postgres://postgres@127.0.0.1:{}/test", refused_port());
    let mut command = serverless();
    command.env("DATABASE_URL", &url);
    let run = run_bounded(command, Duration::from_secs(60));
    let lines = run.stderr_lines();
    assert!(lines.len() <= 2, "{lines:#?}");
    assert!(
        lines.last().is_some_and(|line| line.starts_with("error: ")),
        "{lines:#?}"
    );
}

/// `POOL_PRESET` is read here too, and a name that is no preset is one error line.
#[test]
fn pool_preset_is_read_and_a_bogus_one_is_one_error_line() {
    let mut command = serverless();
    command
        .args(["--invocations", "2"])
        .env_remove("DATABASE_URL")
        .env("POOL_PRESET", "test");
    let run = run_bounded(command, Duration::from_secs(60));
    assert!(run.status.success(), "{run:#?}");
    assert!(run.stdout.contains("preset: test"), "{}", run.stdout);

    let mut command = serverless();
    command
        .env_remove("DATABASE_URL")
        .env("POOL_PRESET", "bogus");
    run_bounded(command, Duration::from_secs(30)).assert_bogus_preset();
}
