//! The slow-statement event, for a binding that times its statements itself
//! (pool-postgres; pool-sqlx has sqlx raise it).
//!
//! pool-sqlx's event is sqlx's own (`log_slow_statements`), and a subscriber filters and
//! reads it by its target, level, message and fields; this gives the same event from a
//! driver that has none, so that one filter (`sqlx::query=warn`) and one dashboard query
//! see slow statements of both bindings alike. It copies sqlx 0.9's
//! `QueryLogger::finish`: target `sqlx::query`, `WARN`, the message
//! `slow statement: execution time exceeded alert threshold`, and the fields `summary`,
//! `db.statement`, `rows_affected`, `rows_returned`, `elapsed`, `elapsed_secs`,
//! `slow_threshold`; a statement is slow when it took at least the threshold. The
//! statement's text only: bound values are never given to it.

use std::time::{Duration, Instant};

/// The target of the event: sqlx's, the one pool-sqlx's slow statements go by.
pub const TARGET: &str = "sqlx::query";

/// The event's message, sqlx's.
pub const MESSAGE: &str = "slow statement: execution time exceeded alert threshold";

/// The timing of one statement against the slow-query threshold. Without a threshold it
/// reads no clock and logs nothing, so a binding may start one around every statement.
#[derive(Clone, Copy, Debug)]
#[must_use = "a timer logs nothing until finished"]
pub struct StatementTimer {
    started: Option<(Instant, Duration)>,
}

impl StatementTimer {
    /// Starts timing a statement against `threshold` (`None`: off, no clock read).
    pub fn start(threshold: Option<Duration>) -> Self {
        StatementTimer {
            started: threshold.map(|threshold| (Instant::now(), threshold)),
        }
    }

    /// Ends the timing of `sql`, logging it if it took at least the threshold, with the
    /// rows it affected and returned.
    pub fn finish(self, sql: &str, rows_affected: u64, rows_returned: u64) {
        if let Some((started, threshold)) = self.started {
            let elapsed = started.elapsed();
            if elapsed >= threshold {
                log(sql, elapsed, threshold, rows_affected, rows_returned);
            }
        }
    }
}

/// The statement's first four words, sqlx's `summary` (all of it when that short).
fn summary(sql: &str) -> String {
    sql.split_whitespace().take(4).collect::<Vec<_>>().join(" ")
}

/// Raises the slow-statement event for `sql`, which took `elapsed` against `threshold`.
fn log(sql: &str, elapsed: Duration, threshold: Duration, rows_affected: u64, rows_returned: u64) {
    if !tracing::enabled!(target: TARGET, tracing::Level::WARN) {
        return;
    }
    let mut summary = summary(sql);
    // sqlx's layout: a summary cut short ends in ` …`, and the whole text follows it
    // between blank lines; a statement the summary holds whole has an empty one.
    let statement = if summary != sql {
        summary.push_str(" …");
        format!("\n\n{sql}\n")
    } else {
        String::new()
    };
    tracing::warn!(
        target: TARGET,
        summary,
        db.statement = statement,
        rows_affected,
        rows_returned,
        ?elapsed,
        elapsed_secs = elapsed.as_secs_f64(),
        slow_threshold = ?threshold,
        "{MESSAGE}"
    );
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{StatementTimer, summary};

    #[test]
    fn the_summary_is_sqlxs_first_four_words() {
        assert_eq!(summary("SELECT 1"), "SELECT 1");
        assert_eq!(
            summary("SELECT  a,\n b FROM t WHERE x = $1"),
            "SELECT a, b FROM"
        );
    }

    #[test]
    fn without_a_threshold_no_clock_is_read() {
        assert!(StatementTimer::start(None).started.is_none());
        assert!(
            StatementTimer::start(Some(Duration::from_secs(1)))
                .started
                .is_some()
        );
    }
}
