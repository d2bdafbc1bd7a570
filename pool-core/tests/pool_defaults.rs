//! The builder's defaults are written once, in `pool_core::defaults`: the table on
//! `PoolBuilder` and the README's table of the pool's settings must show the same figures.

use std::time::Duration;

use pool_core::{Validation, defaults};

const BUILDER_SOURCE: &str = include_str!("../src/pool/builder.rs");
const README: &str = include_str!("../../README.md");

/// `500 ms`, `5 s`, `10 min`, as the tables write them.
fn human(duration: Duration) -> String {
    let millis = duration.as_millis();
    if !millis.is_multiple_of(1000) {
        format!("{millis} ms")
    } else if millis >= 60_000 && millis.is_multiple_of(60_000) {
        format!("{} min", millis / 60_000)
    } else {
        format!("{} s", millis / 1000)
    }
}

/// An optional duration, or what the table says when there is none.
fn or(duration: Option<Duration>, none: &str) -> String {
    duration.map_or_else(|| none.to_owned(), human)
}

/// Each setting and its default, as the tables' first two columns show them.
fn expected() -> Vec<(&'static str, String)> {
    // The tables show the default validation as `validate_after`'s figure.
    assert!(
        matches!(defaults::VALIDATION, Validation::IdleLongerThan(_)),
        "the default validation is no longer `IdleLongerThan`: update the tables"
    );
    let validate_after = match defaults::VALIDATION {
        Validation::IdleLongerThan(idle) => idle,
        _ => Duration::ZERO,
    };
    vec![
        ("max_size", defaults::MAX_SIZE.to_string()),
        ("min_idle", defaults::MIN_IDLE.to_string()),
        ("acquire_timeout", human(defaults::ACQUIRE_TIMEOUT)),
        ("connect_timeout", human(defaults::CONNECT_TIMEOUT)),
        ("check_timeout", human(defaults::CHECK_TIMEOUT)),
        ("validate_after", human(validate_after)),
        ("idle_timeout", or(defaults::IDLE_TIMEOUT, "never")),
        ("max_lifetime", or(defaults::MAX_LIFETIME, "never")),
        ("leak_threshold", or(defaults::LEAK_THRESHOLD, "off")),
        (
            "slow_acquire_threshold",
            or(defaults::SLOW_ACQUIRE_THRESHOLD, "off"),
        ),
        ("close_timeout", human(defaults::CLOSE_TIMEOUT)),
        ("metric_names", format!("`{:?}`", defaults::METRIC_NAMES)),
    ]
}

/// The second column of the row whose first column is `` `setting` ``.
fn documented<'a>(text: &'a str, prefix: &str, setting: &str) -> Option<&'a str> {
    let head = format!("| `{setting}` |");
    text.lines().find_map(|line| {
        let row = line
            .trim_start()
            .strip_prefix(prefix)?
            .strip_prefix(&head)?;
        row.split('|').next().map(str::trim)
    })
}

#[test]
fn the_builders_rustdoc_table_shows_the_defaults() {
    for (setting, value) in expected() {
        assert_eq!(
            documented(BUILDER_SOURCE, "/// ", setting),
            Some(value.as_str()),
            "PoolBuilder's table, `{setting}`"
        );
    }
}

#[test]
fn the_readmes_pool_table_shows_the_defaults() {
    let section = README
        .split("## The pool")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("the README has its pool section");
    for (setting, value) in expected() {
        assert_eq!(
            documented(section, "", setting),
            Some(value.as_str()),
            "the README's pool table, `{setting}`"
        );
    }
}
