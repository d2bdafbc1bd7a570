//! The slow-query log on the real servers: a statement slower than the pool's
//! `slow_query` threshold is logged (sqlx's own event, target `sqlx::query`) with its text
//! and duration; a fast one is not; bound values and the URL's password never appear.
//! The pool shows up through the span the query runs in (sqlx's event has no field for
//! it). Output is captured by the test binary's one `tracing` subscriber, writing to a
//! buffer (`tests::capture`).

use std::time::Duration;

use pool_sqlx::{
    Config, Pool, SqlxManager,
    slow_query::DEFAULT_SLOW_QUERY,
    sqlx::{self, Database, MySql, Postgres, Sqlite},
};
use tests::db;
use tracing::Instrument as _;

/// Bound values: never to be logged.
const BOUND_SLOW: &str = "b0und-v4lue-of-the-slow-query";
const BOUND_FAST: &str = "b0und-v4lue-of-the-fast-query";
/// In the URL: never to be logged either.
const PASSWORD: &str = "pa55-w0rd-slowlog";

/// Everything `tracing` has written in this test binary (`tests::capture`; tests tell
/// their lines apart by the pool named in the span).
fn captured() -> String {
    tests::capture::since(0)
}

/// The lines of sqlx's slow-statement events in the span naming `pool`.
fn slow_lines<'a>(output: &'a str, pool: &str) -> Vec<&'a str> {
    let span = format!("db{{pool=\"{pool}\"}}");
    output
        .lines()
        .filter(|line| {
            line.contains("sqlx::query") && line.contains("slow statement") && line.contains(&span)
        })
        .collect()
}

/// Runs `slow` and `fast` on a pool built from `url` (which sets `slow_query`), inside a
/// span naming the pool, and checks what was logged.
async fn check<DB: pool_sqlx::Backend>(
    url: &str,
    pool_name: &str,
    slow: impl AsyncFnOnce(&mut <DB as Database>::Connection),
    fast: impl AsyncFn(&mut <DB as Database>::Connection),
) -> String
where
    <DB as Database>::Connection: Send + 'static,
{
    captured();
    let config = Config::from_url(url).unwrap();
    let pool: Pool<SqlxManager<DB>> = config.build_pool(pool_name).unwrap();
    let span = tracing::info_span!("db", pool = pool.name());
    async {
        let mut conn = pool.get().await.unwrap();
        fast(&mut **conn).await;
        slow(&mut **conn).await;
        fast(&mut **conn).await;
    }
    .instrument(span)
    .await;
    pool.close().await;
    let output = captured();
    let lines = slow_lines(&output, pool_name);
    println!("{pool_name}: {} slow-statement line(s):", lines.len());
    for line in &lines {
        println!("  {line}");
    }
    assert_eq!(lines.len(), 1, "one slow statement, logged once:\n{output}");
    let line = lines[0];
    assert!(line.contains("slow_marker"), "the statement's text: {line}");
    assert!(line.contains("elapsed="), "its duration: {line}");
    assert!(
        !output.contains("fast_marker"),
        "a fast statement was logged:\n{output}"
    );
    for secret in [BOUND_SLOW, BOUND_FAST, PASSWORD] {
        assert!(!output.contains(secret), "`{secret}` was logged:\n{output}");
    }
    let settings = config.settings().to_string();
    assert!(!settings.contains(PASSWORD), "{settings}");
    output
}

#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test]
async fn postgres_logs_a_slow_statement_with_its_text_never_its_values() {
    let Some(db) = db::postgres("slow_query").await else {
        return;
    };
    // The server trusts local connections, so a password in the URL is sent to no one
    // but still has to stay out of every output.
    let mut url = url::Url::parse(&db.url_with("slow_query=200ms")).unwrap();
    url.set_password(Some(PASSWORD)).unwrap();
    check::<Postgres>(
        url.as_str(),
        "slowlog-pg",
        async |conn| {
            sqlx::query("SELECT pg_sleep(0.5), $1::text AS slow_marker")
                .bind(BOUND_SLOW)
                .execute(conn)
                .await
                .unwrap();
        },
        async |conn| {
            sqlx::query("SELECT $1::text AS fast_marker")
                .bind(BOUND_FAST)
                .execute(conn)
                .await
                .unwrap();
        },
    )
    .await;
    db.cleanup().await;
}

#[cfg_attr(no_mysql, ignore = "set TEST_MYSQL_URL to run (README: Set-up)")]
#[tokio::test]
async fn mariadb_logs_a_slow_statement_with_its_text_never_its_values() {
    let Some(db) = db::mysql("slow_query").await else {
        return;
    };
    check::<MySql>(
        &db.url_with("slow_query=200ms"),
        "slowlog-my",
        async |conn| {
            sqlx::query("SELECT SLEEP(0.5), ? AS slow_marker")
                .bind(BOUND_SLOW)
                .execute(conn)
                .await
                .unwrap();
        },
        async |conn| {
            sqlx::query("SELECT ? AS fast_marker")
                .bind(BOUND_FAST)
                .execute(conn)
                .await
                .unwrap();
        },
    )
    .await;
    db.cleanup().await;
}

#[tokio::test]
async fn sqlite_logs_a_slow_statement_with_its_text_never_its_values() {
    let (_dir, url) = db::sqlite("slow_query");
    check::<Sqlite>(
        &format!("{url}&slow_query=100ms"),
        "slowlog-lite",
        async |conn| {
            // Counting to three million in a recursive CTE: well over 100 ms.
            sqlx::query(
                "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?) \
                 SELECT count(*), ? AS slow_marker FROM c",
            )
            .bind(3_000_000_i64)
            .bind(BOUND_SLOW)
            .execute(conn)
            .await
            .unwrap();
        },
        async |conn| {
            sqlx::query("SELECT ? AS fast_marker")
                .bind(BOUND_FAST)
                .execute(conn)
                .await
                .unwrap();
        },
    )
    .await;
}

#[tokio::test]
async fn slow_query_zero_turns_the_log_off_and_the_default_is_one_second() {
    let (_dir, url) = db::sqlite("slow_query_off");
    captured();
    let config = Config::from_url(&format!("{url}&slow_query=0")).unwrap();
    assert_eq!(config.settings().slow_query, None);
    assert!(config.settings().to_string().contains("slow_query: off"));
    let pool: Pool<SqlxManager<Sqlite>> = config.build_pool("off").unwrap();
    let started = std::time::Instant::now();
    async {
        let mut conn = pool.get().await.unwrap();
        sqlx::query(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) \
             SELECT count(*) AS off_marker FROM c",
        )
        .execute(&mut **conn)
        .await
        .unwrap();
    }
    .instrument(tracing::info_span!("db", pool = pool.name()))
    .await;
    let took = started.elapsed();
    pool.close().await;
    let output = captured();
    assert!(slow_lines(&output, "off").is_empty(), "{output}");
    // With slow_query off nothing of sqlx's statement log is left: no per-statement DEBUG.
    assert!(!output.contains("off_marker"), "{output}");
    println!("slow_query=0: a {took:?} statement, not logged");

    let default = Config::from_url(&url).unwrap();
    assert_eq!(default.settings().slow_query, Some(DEFAULT_SLOW_QUERY));
    assert_eq!(DEFAULT_SLOW_QUERY, Duration::from_secs(1));
    let set = default.with_slow_query(Some(Duration::from_millis(250)));
    assert_eq!(set.settings().slow_query, Some(Duration::from_millis(250)));
    assert_eq!(
        set.manager::<Sqlite>()
            .unwrap()
            .session_settings()
            .slow_query,
        Some(Duration::from_millis(250))
    );
    assert_eq!(set.with_slow_query(None).settings().slow_query, None);
}

#[test]
fn a_bad_slow_query_names_the_parameter() {
    let error =
        Config::from_url(&format!("postgres://app:{PASSWORD}@h/db?slow_query=soon")).unwrap_err();
    assert_eq!(error.setting, "slow_query");
    assert!(error.to_string().contains("slow_query"), "{error}");
    assert!(!error.to_string().contains(PASSWORD), "{error}");
}
