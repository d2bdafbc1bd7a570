//! The slow-query log: every statement slower than a threshold is logged with its text
//! and its duration, never its bound values (Prisma's query event, through sqlx's own
//! statement logging rather than a second one).
//!
//! Set per pool: the URL's `slow_query` parameter (`slow_query=500ms`; `0`: off),
//! [`Config::with_slow_query`](crate::Config::with_slow_query), or
//! [`SqlxManager::slow_query`](crate::SqlxManager::slow_query). The default is
//! [`DEFAULT_SLOW_QUERY`], 1 s: sqlx's own default threshold and the pool's
//! `slow_acquire_threshold`; a statement that takes a second in a service is worth a
//! warning, and the event is safe to keep on because it carries no bound values.
//!
//! The connection's options get `log_slow_statements(WARN, threshold)` and
//! `log_statements(OFF)`: sqlx's per-statement `DEBUG` log (every statement, sqlx's
//! default) is quieted, so only slow statements are logged. What a subscriber sees is
//! sqlx's event, at `WARN`, with the target `sqlx::query` and the message
//! `slow statement: execution time exceeded alert threshold`, with these fields:
//!
//! | field | what |
//! |---|---|
//! | `summary` | the statement's first four words (all of it when that short) |
//! | `db.statement` | the whole statement when longer than `summary`, else empty |
//! | `elapsed`, `elapsed_secs` | how long it took (`612.3ms`; `0.6123`) |
//! | `slow_threshold` | the threshold |
//! | `rows_affected`, `rows_returned` | what it did |
//!
//! pool-postgres, whose driver logs no such thing, raises the same event from
//! `pool_facts::slow_query` (its `Client`'s `*_cached` statements), so one filter and one
//! query over the logs see both bindings' slow statements.
//!
//! Bound values (`$1`, `?`) are never in it: sqlx logs the statement's text only. A value
//! written into the SQL text itself is part of the statement and is logged with it.
//!
//! sqlx's event has no field for the pool: it cannot name it. The pool shows up through
//! the span the query runs in; enter one that names it where the connection is used,
//! and every subscriber that prints span context (tracing-subscriber's `fmt` does) shows
//! it with the event:
//!
//! ```no_run
//! # async fn f(pool: &pool_sqlx::PgPool) -> Result<(), pool_sqlx::Error> {
//! use tracing::Instrument as _;
//! let span = tracing::info_span!("db", pool = pool.name());
//! async {
//!     let mut conn = pool.get().await?;
//!     pool_sqlx::sqlx::query("SELECT pg_sleep(2)").execute(&mut **conn).await?;
//!     Ok::<_, pool_sqlx::Error>(())
//! }
//! .instrument(span)
//! .await
//! // WARN db{pool="orders"}: sqlx::query: slow statement: execution time exceeded alert
//! //      threshold summary="SELECT pg_sleep(2)" db.statement="" … elapsed=2.001s …
//! # }
//! ```

use std::time::Duration;

use sqlx::ConnectOptions;

/// The threshold when none is set: 1 s (the one default every binding shares).
pub const DEFAULT_SLOW_QUERY: Duration = pool_facts::DEFAULT_SLOW_QUERY;

/// `options` logging only the statements slower than `threshold` (`None`: none at all).
pub(crate) fn configure<O: ConnectOptions>(options: O, threshold: Option<Duration>) -> O {
    let options = options.log_statements(log::LevelFilter::Off);
    match threshold {
        Some(threshold) => options.log_slow_statements(log::LevelFilter::Warn, threshold),
        None => options.log_slow_statements(log::LevelFilter::Off, Duration::ZERO),
    }
}
