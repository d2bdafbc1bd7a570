//! The `spans` example as a process, without flags: one call retried twice, its spans
//! printed as they close.

use std::{process::Command, time::Duration};

use tests::example_run::run_bounded;

#[test]
fn spans_prints_one_call_with_three_attempts_each_with_its_checkout() {
    let mut command = Command::new(tests::example_run::example("spans"));
    command.env_remove("RUST_LOG");
    let run = run_bounded(command, Duration::from_secs(60));
    assert!(run.status.success(), "{run:#?}");
    let out = &run.stdout;
    assert!(out.contains("find_user(7) = 7 after 3 attempts"), "{out}");
    let closed = |prefix: &str| {
        out.lines()
            .filter(|line| line.contains(prefix) && line.ends_with("pool_core::spans: close"))
            .count()
    };
    // Each attempt's checkout, inside its attempt, inside the call.
    assert_eq!(
        closed("pool.attempt{pool.attempt=1 pool.backoff_ms=0}:pool.acquire{"),
        1,
        "{out}"
    );
    assert_eq!(
        closed(":pool.acquire{db.client.connection.pool.name=\"users\" db.system.name=\"sqlite\""),
        3,
        "{out}"
    );
    // Two failed attempts, then one that answered, then the call.
    assert_eq!(
        closed("pool.outcome=\"error\" error.type=\"transient\" pool.delivery=\"rejected\"}:"),
        2,
        "{out}"
    );
    assert_eq!(
        closed("pool.attempt{pool.attempt=3 "),
        2,
        "its checkout and itself: {out}"
    );
    assert_eq!(
        closed(
            "INFO pool.call{code.function.name=\"spans::find_user\" pool.outcome=\"ok\" pool.attempts=3}: "
        ),
        1,
        "{out}"
    );
    assert_eq!(out.matches("attempt failed; retrying").count(), 2, "{out}");
}
