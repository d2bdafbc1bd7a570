//! The `quickstart` example as a process, run as a newcomer runs it: on SQLite, with a
//! mistyped port, with a preset name that is no preset.
//!
//! The binary is the example `cargo test` builds beside this test
//! (`tests::example_run::example("quickstart")`).

use std::{process::Command, time::Duration};

use pool_sqlx::{Config, Preset};
use tests::example_run::{refused_port, run_bounded};

/// Slack on top of a timeout for the process to start and exit.
const MARGIN: Duration = Duration::from_secs(2);

fn quickstart() -> Command {
    let mut command = Command::new(tests::example_run::example("quickstart"));
    command.env_remove("POOL_PRESET").env_remove("RUST_LOG");
    command
}

#[test]
fn quickstart_runs_on_sqlite_and_says_how_long_the_lock_was_held() {
    let mut command = quickstart();
    command.env_remove("DATABASE_URL");
    let run = run_bounded(command, Duration::from_secs(60));
    assert!(run.status.success(), "{run:#?}");
    assert!(run.stdout.contains("(preset production)"), "{}", run.stdout);
    // The header says what happens; the figure after it is measured.
    assert!(
        run.stdout
            .contains("3. The second writer holds the lock through three calls"),
        "{}",
        run.stdout
    );
    let held = run
        .stdout
        .lines()
        .find_map(|line| line.trim().strip_prefix("lock released after "))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|millis| millis.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no `lock released after N ms`:\n{}", run.stdout));
    eprintln!("quickstart: the lock was held {held} ms");
    assert!(held < 2_000, "held {held} ms");
    assert!(run.stdout.contains("(recovered)"), "{}", run.stdout);
}

/// `DATABASE_URL` with a port nothing listens on: one line on stderr, the error in its
/// `Display` form, within the connect timeout.
#[test]
fn a_refused_database_ends_quickstart_with_one_line_within_the_connect_timeout() {
    let url = format!("postgres://postgres@127.0.0.1:{}/test", refused_port());
    let connect_timeout = Config::from_url(&url)
        .expect("a valid URL")
        .with_preset(Preset::Production)
        .settings()
        .connect_timeout;
    let mut command = quickstart();
    command.env("DATABASE_URL", &url);
    let run = run_bounded(command, connect_timeout + Duration::from_secs(30));
    eprintln!(
        "quickstart, refused port: exit {} after {:?}, stderr: {:?}",
        run.status, run.took, run.stderr
    );
    assert_eq!(run.status.code(), Some(1), "{run:#?}");
    assert!(
        run.took <= connect_timeout + MARGIN,
        "took {:?} (connect timeout {connect_timeout:?})",
        run.took
    );
    run.assert_refused_start();
}

#[test]
fn a_bogus_pool_preset_is_one_error_line() {
    let mut command = quickstart();
    command
        .env_remove("DATABASE_URL")
        .env("POOL_PRESET", "bogus");
    run_bounded(command, Duration::from_secs(30)).assert_bogus_preset();
}
