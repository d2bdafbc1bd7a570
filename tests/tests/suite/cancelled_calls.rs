//! A call cancelled mid-query by its caller (a client that hung up, the caller's own
//! timeout) through every door that marks an operation: `#[pooled]`, `#[resilient]` over
//! `#[pooled]`, and `Pooled::begin_operation` by hand. Its connection is recovered once
//! the cancelled query's answer is in (the same server session serves the next call,
//! nothing is reconnected). Closed instead: one cut by `#[resilient]`'s own timeout (the
//! server is slow: at once), one whose query outlasts `check_timeout`, one inside a
//! transaction the engine opened, one inside a transaction the body opened by hand. One
//! body, run on PostgreSQL and on MariaDB.

macro_rules! cancelled_calls {
    (
        $module:ident, $open:path, $backend:ident, $conn:ident,
        session = $session:literal, sleep = $sleep:literal, in_transaction = $in_transaction:literal
    ) => {
        mod $module {
            use std::time::Duration;

            use pool_sqlx::{
                Config, Error, Pool, SqlxManager, Validation, pooled, resilient,
                sqlx::{self, Executor, Row, $backend, $conn},
            };
            use tests::db;

            type TestPool = Pool<SqlxManager<$backend>>;

            /// Long enough to be cancelled mid-query, short enough to wait out.
            const NAP: f64 = 0.2;
            const CANCEL_AFTER: Duration = Duration::from_millis(20);

            #[pooled]
            async fn session(conn: &mut $conn) -> Result<i64, Error> {
                Ok(sqlx::query_scalar($session).fetch_one(&mut *conn).await?)
            }

            /// One simple-protocol message (PostgreSQL's `statement_timestamp()` is per
            /// protocol message).
            #[pooled]
            async fn in_transaction(conn: &mut $conn) -> Result<i64, Error> {
                let row = sqlx::raw_sql($in_transaction).fetch_one(&mut *conn).await?;
                Ok(row.try_get(0)?)
            }

            #[pooled]
            async fn nap(conn: &mut $conn, seconds: f64) -> Result<(), Error> {
                sqlx::query($sleep)
                    .bind(seconds)
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            }

            #[resilient(retries = 2)]
            #[pooled]
            async fn nap_retried(conn: &mut $conn, seconds: f64) -> Result<(), Error> {
                sqlx::query($sleep)
                    .bind(seconds)
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            }

            #[resilient(timeout = "20ms")]
            #[pooled]
            async fn nap_under_a_timeout(conn: &mut $conn, seconds: f64) -> Result<(), Error> {
                sqlx::query($sleep)
                    .bind(seconds)
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            }

            #[pooled(transaction)]
            async fn nap_in_a_transaction(conn: &mut $conn, seconds: f64) -> Result<(), Error> {
                sqlx::query($sleep)
                    .bind(seconds)
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            }

            #[pooled]
            async fn nap_after_begin(conn: &mut $conn, seconds: f64) -> Result<(), Error> {
                conn.execute("BEGIN").await?;
                sqlx::query($sleep)
                    .bind(seconds)
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            }

            fn one_connection(url: &str, check_timeout: Duration) -> TestPool {
                Config::from_url(url)
                    .unwrap()
                    .pool_builder::<$backend>("cancelled")
                    .unwrap()
                    .max_size(1)
                    .validation(Validation::Never)
                    .check_timeout(check_timeout)
                    .build()
                    .unwrap()
            }

            async fn cancelled<F: std::future::Future>(call: F) {
                assert!(
                    tokio::time::timeout(CANCEL_AFTER, call).await.is_err(),
                    "the call ended before it could be cancelled"
                );
            }

            pub(super) async fn a_call_cancelled_mid_query_keeps_its_connection() {
                let Some(db) = $open("cancel_keep").await else {
                    return;
                };
                let pool = one_connection(&db.url, Duration::from_secs(5));
                let first = session(&pool).await.unwrap();

                cancelled(nap(&pool, NAP)).await;
                assert_eq!(session(&pool).await.unwrap(), first, "#[pooled]");

                cancelled(nap_retried(&pool, NAP)).await;
                assert_eq!(session(&pool).await.unwrap(), first, "#[resilient]");

                let mut conn = pool.get().await.unwrap();
                conn.begin_operation();
                cancelled(sqlx::query($sleep).bind(NAP).execute(&mut **conn)).await;
                drop(conn);
                assert_eq!(session(&pool).await.unwrap(), first, "begin_operation");

                let metrics = pool.metrics();
                assert_eq!(
                    (
                        metrics.connections_created,
                        metrics.closed_broken,
                        metrics.recovered
                    ),
                    (1, 0, 3),
                    "reconnected: {metrics:?}"
                );
                assert_eq!(in_transaction(&pool).await.unwrap(), 0);
                pool.close().await;
                db.cleanup().await;
            }

            pub(super) async fn a_call_cut_by_its_policy_timeout_is_closed_at_once() {
                let Some(db) = $open("cancel_timeout").await else {
                    return;
                };
                let pool = one_connection(&db.url, Duration::from_secs(5));
                let first = session(&pool).await.unwrap();
                let error = nap_under_a_timeout(&pool, NAP).await.unwrap_err();
                assert!(error.to_string().contains("timed out"), "{error}");
                // Closed as it was cut, before anything waits for the server.
                assert_eq!(pool.metrics().closed_broken, 1);
                assert_ne!(session(&pool).await.unwrap(), first);
                pool.close().await;
                db.cleanup().await;
            }

            pub(super) async fn a_cancelled_query_that_outlasts_check_timeout_is_closed() {
                let Some(db) = $open("cancel_long").await else {
                    return;
                };
                let pool = one_connection(&db.url, Duration::from_millis(300));
                let first = session(&pool).await.unwrap();
                cancelled(nap(&pool, 30.0)).await;
                // The next call waits for the recovery to give up, then opens a new session.
                assert_ne!(session(&pool).await.unwrap(), first);
                assert_eq!(pool.metrics().closed_broken, 1);
                pool.close().await;
                db.cleanup().await;
            }

            pub(super) async fn a_call_cancelled_inside_a_transaction_is_closed() {
                let Some(db) = $open("cancel_tx").await else {
                    return;
                };
                let pool = one_connection(&db.url, Duration::from_secs(5));
                let first = session(&pool).await.unwrap();

                // Begun by the engine: its outcome cannot be known, the server ends it.
                cancelled(nap_in_a_transaction(&pool, NAP)).await;
                let second = session(&pool).await.unwrap();
                assert_ne!(second, first, "#[pooled(transaction)]");

                // Begun by hand in the body: the recovery's check finds it open.
                cancelled(nap_after_begin(&pool, NAP)).await;
                assert_ne!(session(&pool).await.unwrap(), second, "BEGIN by hand");
                assert_eq!(in_transaction(&pool).await.unwrap(), 0);
                assert_eq!(pool.metrics().closed_broken, 2);
                pool.close().await;
                db.cleanup().await;
            }
        }
    };
}

cancelled_calls!(
    postgres,
    db::postgres,
    Postgres,
    PgConnection,
    session = "SELECT pg_backend_pid()::int8",
    sleep = "SELECT pg_sleep($1)",
    in_transaction = "SELECT (now() <> statement_timestamp())::int4::int8"
);

cancelled_calls!(
    mysql,
    db::mysql,
    MySql,
    MySqlConnection,
    session = "SELECT CAST(CONNECTION_ID() AS SIGNED)",
    sleep = "SELECT SLEEP(?)",
    in_transaction = "SELECT CAST(@@in_transaction AS SIGNED)"
);

// The tests, one line of `ignore` each, as tests/build.rs counts them.

#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test]
async fn postgres_a_call_cancelled_mid_query_keeps_its_connection() {
    postgres::a_call_cancelled_mid_query_keeps_its_connection().await;
}

#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test]
async fn postgres_a_call_cut_by_its_policy_timeout_is_closed_at_once() {
    postgres::a_call_cut_by_its_policy_timeout_is_closed_at_once().await;
}

#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test]
async fn postgres_a_cancelled_query_that_outlasts_check_timeout_is_closed() {
    postgres::a_cancelled_query_that_outlasts_check_timeout_is_closed().await;
}

#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test]
async fn postgres_a_call_cancelled_inside_a_transaction_is_closed() {
    postgres::a_call_cancelled_inside_a_transaction_is_closed().await;
}

#[cfg_attr(no_mysql, ignore = "set TEST_MYSQL_URL to run (README: Set-up)")]
#[tokio::test]
async fn mysql_a_call_cancelled_mid_query_keeps_its_connection() {
    mysql::a_call_cancelled_mid_query_keeps_its_connection().await;
}

#[cfg_attr(no_mysql, ignore = "set TEST_MYSQL_URL to run (README: Set-up)")]
#[tokio::test]
async fn mysql_a_call_cut_by_its_policy_timeout_is_closed_at_once() {
    mysql::a_call_cut_by_its_policy_timeout_is_closed_at_once().await;
}

#[cfg_attr(no_mysql, ignore = "set TEST_MYSQL_URL to run (README: Set-up)")]
#[tokio::test]
async fn mysql_a_cancelled_query_that_outlasts_check_timeout_is_closed() {
    mysql::a_cancelled_query_that_outlasts_check_timeout_is_closed().await;
}

#[cfg_attr(no_mysql, ignore = "set TEST_MYSQL_URL to run (README: Set-up)")]
#[tokio::test]
async fn mysql_a_call_cancelled_inside_a_transaction_is_closed() {
    mysql::a_call_cancelled_inside_a_transaction_is_closed().await;
}
