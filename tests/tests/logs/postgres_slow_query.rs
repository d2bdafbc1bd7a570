//! pool-postgres's slow-query log against the shared PostgreSQL server, beside pool-sqlx's
//! (issue #21): the same URL (`slow_query=2s`) on both bindings, the same statement over
//! the threshold (`pg_sleep(2.5)`) and the same trivially fast one under it; each logs the
//! slow one once and the fast one never, and the two events are one event: the same
//! target, level, message and fields with the same values but for the time taken (the
//! one owner of pool-postgres's is `pool_facts::slow_query`, a copy of sqlx's). Bound
//! values and the password never appear in it (nor in any line but tokio-postgres's
//! own, see [`ours`]). The threshold is generous and the fast
//! statement `SELECT $1::text`, so a loaded machine does not make it slow.

use pool_sqlx::{
    Config, Pool, SqlxManager,
    sqlx::{self, Postgres},
};
use tests::db;
use tracing::Instrument as _;

const BOUND_SLOW: &str = "b0und-v4lue-of-the-slow-tokio-query";
const BOUND_FAST: &str = "b0und-v4lue-of-the-fast-tokio-query";
const PASSWORD: &str = "pa55-w0rd-tokio-slowlog";
const SLOW: &str = "SELECT pg_sleep(2.5), $1::text AS sleepy_mark";
const FAST: &str = "SELECT $1::text AS quick_mark";

/// The slow-statement lines in the span naming `pool`, each from the level on, with the
/// span and the two time fields taken out: what must read the same on both bindings.
fn slow_events(output: &str, pool: &str) -> Vec<String> {
    let span = format!(" db{{pool=\"{pool}\"}}: ");
    output
        .lines()
        .filter(|line| line.contains("slow statement") && line.contains(&span))
        .map(|line| {
            let from_level = line.find(" WARN ").map_or(line, |at| &line[at..]);
            from_level
                .replace(&span, " ")
                .split(' ')
                .map(|word| {
                    if word.starts_with("elapsed=") {
                        "elapsed=…"
                    } else if word.starts_with("elapsed_secs=") {
                        "elapsed_secs=…"
                    } else {
                        word
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// The captured lines but tokio-postgres's own: at `DEBUG` it logs each statement it
/// prepares and executes with its bound values (`executing statement s1 with parameters:
/// [...]`), which is the driver's log, not this pool's (filter `tokio_postgres` to `INFO`
/// in production).
fn ours(output: &str) -> impl Iterator<Item = &str> {
    output
        .lines()
        .filter(|line| !line.contains(" tokio_postgres::"))
}

#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test]
async fn postgres_logs_a_slow_statement_as_pool_sqlx_does() {
    let Some(db) = db::postgres("tokio_slow_query").await else {
        return;
    };
    let mut url = url::Url::parse(&db.url_with("slow_query=2s")).unwrap();
    url.set_password(Some(PASSWORD)).unwrap();
    let url = url.to_string();
    tests::capture::install();

    let pool = pool_postgres::Config::from_url(&url)
        .unwrap()
        .build_pool("slowlog-tokio")
        .unwrap();
    async {
        let conn = pool.get().await.unwrap();
        conn.query_one_cached(FAST, &[&BOUND_FAST]).await.unwrap();
        conn.query_one_cached(SLOW, &[&BOUND_SLOW]).await.unwrap();
        conn.query_one_cached(FAST, &[&BOUND_FAST]).await.unwrap();
    }
    .instrument(tracing::info_span!("db", pool = "slowlog-tokio"))
    .await;
    pool.close().await;

    let config = Config::from_url(&url).unwrap();
    let pool: Pool<SqlxManager<Postgres>> = config.build_pool("slowlog-sqlx").unwrap();
    async {
        let mut conn = pool.get().await.unwrap();
        for (sql, bound) in [(FAST, BOUND_FAST), (SLOW, BOUND_SLOW), (FAST, BOUND_FAST)] {
            sqlx::query(sql)
                .bind(bound)
                .fetch_all(&mut **conn)
                .await
                .unwrap();
        }
    }
    .instrument(tracing::info_span!("db", pool = "slowlog-sqlx"))
    .await;
    pool.close().await;

    let output = tests::capture::since(0);
    let tokio = slow_events(&output, "slowlog-tokio");
    let sqlx = slow_events(&output, "slowlog-sqlx");
    println!("pool-postgres: {tokio:#?}\npool-sqlx: {sqlx:#?}");
    assert_eq!(tokio.len(), 1, "one slow statement, logged once:\n{output}");
    assert_eq!(tokio, sqlx, "the same event on both bindings");
    let event = &tokio[0];
    for part in [
        " WARN sqlx::query: slow statement: execution time exceeded alert threshold ",
        "summary=\"SELECT pg_sleep(2.5), $1::text AS …\"",
        "sleepy_mark",
        "elapsed=…",
        "slow_threshold=2s",
    ] {
        assert!(event.contains(part), "`{part}` missing: {event}");
    }
    assert!(
        !ours(&output).any(|line| line.contains("slow statement") && line.contains("quick_mark")),
        "a fast statement was logged:\n{output}"
    );
    for secret in [BOUND_SLOW, BOUND_FAST, PASSWORD] {
        assert!(
            !ours(&output).any(|line| line.contains(secret)),
            "`{secret}` was logged:\n{output}"
        );
    }
    db.cleanup().await;
}

#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test]
async fn slow_query_zero_turns_pool_postgres_s_log_off() {
    let Some(db) = db::postgres("tokio_slow_query_off").await else {
        return;
    };
    tests::capture::install();
    let config = pool_postgres::Config::from_url(&db.url_with("slow_query=0")).unwrap();
    assert_eq!(config.effective_slow_query(), None);
    let pool = config.build_pool("slowlog-tokio-off").unwrap();
    async {
        let conn = pool.get().await.unwrap();
        // Over any threshold but none: with the log off, nothing.
        conn.execute_cached("SELECT pg_sleep(0.2) AS unlogged_mark", &[])
            .await
            .unwrap();
    }
    .instrument(tracing::info_span!("db", pool = "slowlog-tokio-off"))
    .await;
    pool.close().await;
    let output = tests::capture::since(0);
    assert!(
        slow_events(&output, "slowlog-tokio-off").is_empty(),
        "{output}"
    );
    assert!(
        !ours(&output).any(|line| line.contains("unlogged_mark")),
        "{output}"
    );
    let default = pool_postgres::Config::from_url("postgres://h/db").unwrap();
    assert_eq!(
        default.effective_slow_query(),
        Some(pool_postgres::pool_facts::DEFAULT_SLOW_QUERY)
    );
    db.cleanup().await;
}
