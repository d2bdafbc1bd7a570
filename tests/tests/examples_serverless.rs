//! The `serverless` example as a process: many invocations, one connection.
//!
//! The binary is the example's source built as a `[[bin]]` of this package (see
//! `tests/Cargo.toml`), found through `CARGO_BIN_EXE_serverless`.

use std::{
    process::{Command, Stdio},
    time::Duration,
};

#[test]
fn serverless_invocations_share_one_lazily_opened_connection() {
    let invocations = 12;
    let mut child = Command::new(env!("CARGO_BIN_EXE_serverless"))
        .args(["--invocations", &invocations.to_string()])
        .env_remove("DATABASE_URL")
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
