//! pool-postgres, the tokio-postgres binding, on the real server: the shared SQLSTATE
//! cases raised for real and read by both bindings, a killed backend, a cancelled call,
//! and bad input.

use std::{borrow::BorrowMut, time::Duration};

use pool_postgres::pool_facts::sqlstate::{POSTGRES_CASES, PgSeverity};
use pool_postgres::tokio_postgres::types::ToSql;
use pool_postgres::{Classify, Delivery, ErrorClass, Manager};
use pool_sqlx::{
    SqlxError,
    sqlx::{self, Connection, PgConnection},
};
use tests::db::Server;

/// A statement that fails with `sqlstate`, at severity ERROR.
fn raising(sqlstate: &str) -> String {
    format!("DO $$ BEGIN RAISE EXCEPTION 'case {sqlstate}' USING ERRCODE = '{sqlstate}'; END $$")
}

#[tokio::test]
#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
async fn the_shared_sqlstate_cases_read_alike_on_both_bindings() {
    let Some(url) =
        Server::Postgres.admin_url("the_shared_sqlstate_cases_read_alike_on_both_bindings")
    else {
        return;
    };
    let pool = pool_postgres::Config::from_url(&url)
        .map(|config| config.with_preset(pool_postgres::pool_facts::Preset::Test))
        .map_err(pool_postgres::Error::from)
        .and_then(|config| config.build_pool("shared_cases"))
        .expect("pool-postgres pool");
    let mut sqlx_conn = PgConnection::connect(&url).await.expect("sqlx connection");
    let client = pool.get().await.expect("pool-postgres checkout");
    // RAISE always reports ERROR; the FATAL rows are the server ending a session, raised
    // by the killed-backend test below.
    let raisable = POSTGRES_CASES
        .iter()
        .filter(|(_, severity, _, _)| *severity == PgSeverity::Error);
    let mut seen = 0;
    for &(sqlstate, _, class, delivery) in raisable {
        let sql = raising(sqlstate);
        let tokio_error: pool_postgres::PgError = client
            .batch_execute(&sql)
            .await
            .expect_err("the statement raises")
            .into();
        let sqlx_error = SqlxError(
            // sql: a SQLSTATE from the shared case table, no input
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone()))
                .execute(&mut sqlx_conn)
                .await
                .expect_err("the statement raises"),
        );
        assert_eq!(
            tokio_error.sqlstate(),
            Some(sqlstate),
            "{sqlstate} on tokio-postgres"
        );
        for (binding, got_class, got_delivery) in [
            ("pool-postgres", tokio_error.class(), tokio_error.delivery()),
            ("pool-sqlx", sqlx_error.class(), sqlx_error.delivery()),
        ] {
            assert_eq!(got_class, class, "{sqlstate} class on {binding}");
            assert_eq!(got_delivery, delivery, "{sqlstate} delivery on {binding}");
        }
        seen += 1;
    }
    assert!(seen >= 10, "the table has ERROR rows to raise: {seen}");
    drop(client);
    pool.close().await;
}

#[tokio::test]
#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
async fn a_killed_backend_is_a_connection_failure_and_its_client_is_not_reused() {
    let Some(url) = Server::Postgres.admin_url("a_killed_backend_is_a_connection_failure") else {
        return;
    };
    let pool = pool_postgres::Config::from_url(&format!("{url}?connection_limit=1"))
        .map_err(pool_postgres::Error::from)
        .and_then(|config| config.build_pool("killed_backend"))
        .expect("pool");
    let mut client = pool.get().await.expect("checkout");
    // The door `#[pooled]` uses: an operation whose outcome says the connection is dead.
    client.begin_operation();
    let pid: i32 = client
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .expect("pid")
        .get(0);
    let mut admin = PgConnection::connect(&url).await.expect("admin");
    sqlx::query("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .execute(&mut admin)
        .await
        .expect("terminate");
    let outcome = client
        .query_one("SELECT 1", &[])
        .await
        .map_err(pool_postgres::PgError::from);
    let error = outcome.as_ref().expect_err("the session is gone");
    assert_eq!(error.class(), ErrorClass::Connection, "{error}");
    assert_eq!(error.delivery(), Delivery::Unknown, "{error}");
    client.finish(&outcome);
    let again = pool.get().await.expect("a new connection");
    let new_pid: i32 = again
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .expect("pid")
        .get(0);
    assert_ne!(new_pid, pid, "the killed client was not handed out again");
    drop(again);
    pool.close().await;
}

#[tokio::test]
#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
async fn the_check_catches_a_client_left_inside_a_transaction() {
    let Some(url) =
        Server::Postgres.admin_url("the_check_catches_a_client_left_inside_a_transaction")
    else {
        return;
    };
    let manager = pool_postgres::Config::from_url(&url)
        .map_err(pool_postgres::Error::from)
        .and_then(|config| config.manager())
        .expect("manager");
    let mut client = manager.connect().await.expect("connect");
    manager
        .check(&mut client)
        .await
        .expect("a fresh client passes");
    client.batch_execute("BEGIN").await.expect("begin");
    let dirty = manager
        .check(&mut client)
        .await
        .expect_err("inside a transaction");
    assert_eq!(dirty.class(), ErrorClass::Connection, "{dirty}");
    assert!(
        !manager.recover(&mut client).await,
        "not recovered inside a transaction"
    );
    client.batch_execute("ROLLBACK").await.expect("rollback");
    assert!(
        manager.recover(&mut client).await,
        "recovered once outside it"
    );
}

#[tokio::test]
async fn bad_input_is_one_typed_error() {
    let mysql = pool_postgres::Config::from_url("mysql://root@127.0.0.1:3306/test")
        .map_err(pool_postgres::Error::from)
        .and_then(|config| config.build_pool("wrong_backend"))
        .expect_err("a MySQL URL");
    assert!(
        matches!(&mysql, pool_postgres::Error::Config(error) if error.to_string().contains("is a mysql URL, used for a postgres pool")),
        "{mysql:?}"
    );
    let misspelt = pool_postgres::Config::from_url("postgres://app@db/app?connection_limt=5")
        .expect_err("a misspelt parameter");
    assert!(
        misspelt.to_string().contains("connection_limit"),
        "{misspelt}"
    );
    // TLS is read by pool-facts for both bindings (tests/tests/cluster/postgres_tls.rs).
    let tls = pool_postgres::Config::from_url("postgres://app@db/app?sslmode=verify-fll")
        .map_err(pool_postgres::Error::from)
        .and_then(|config| config.build_pool("tls"))
        .expect_err("an unknown sslmode");
    assert!(
        tls.to_string()
            .contains("`sslmode` must be disable, allow,"),
        "{tls}"
    );
}

#[tokio::test]
async fn a_refused_port_fails_within_the_connect_timeout() {
    // Port 9 on loopback: nothing listens, the kernel refuses at once.
    let pool = pool_postgres::Config::from_url(
        "postgres://postgres:secret@127.0.0.1:9/test?connect_timeout=2&pool_timeout=3",
    )
    .map_err(pool_postgres::Error::from)
    .and_then(|config| config.build_pool("refused"))
    .expect("a lazy pool builds");
    let started = std::time::Instant::now();
    let error = pool_postgres::Error::from(pool.get().await.expect_err("refused"));
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    // The pool kept trying until `pool_timeout`, and says what the last connect met.
    assert_eq!(error.class(), ErrorClass::Timeout, "{error}");
    assert!(
        error.to_string().contains("error connecting to server"),
        "{error}"
    );
    assert!(!error.to_string().contains("secret"), "{error}");
}

#[tokio::test]
#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
async fn transactions_go_through_the_one_engine_commit_and_rollback() {
    use pool_postgres::transaction::Transaction;
    let Some(url) = Server::Postgres.admin_url("transactions_go_through_the_one_engine") else {
        return;
    };
    let pool = pool_postgres::Config::from_url(&url)
        .map_err(pool_postgres::Error::from)
        .and_then(|config| config.build_pool("transactions"))
        .expect("pool");
    let table = format!("pool_postgres_tx_{}", std::process::id());
    let setup = pool.get().await.expect("checkout");
    setup
        // sql: the table name is ours (the test's process id), no input
        .batch_execute(&format!(
            "DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (n int)"
        ))
        .await
        .expect("table");
    drop(setup);
    let engine: Transaction<pool_postgres::PostgresManager, pool_postgres::Error> =
        Transaction::new();
    for (n, outcome) in [
        (1, Ok(())),
        (
            2,
            Err(pool_postgres::Error::from(pool_postgres::ConfigError::new(
                "body",
                "fails on purpose",
            ))),
        ),
    ] {
        let open = engine
            .begin(pool.get().await.expect("checkout"))
            .await
            .expect("begin");
        // sql: the table name is ours (the test's process id), no input
        open.execute(&format!("INSERT INTO {table} VALUES ($1)"), &[&n])
            .await
            .expect("insert");
        let ended = engine.deliver(engine.end(open, outcome).await);
        assert_eq!(ended.is_ok(), n == 1, "row {n}");
    }
    let check = pool.get().await.expect("checkout");
    let rows: Vec<i32> = check
        // sql: the table name is ours (the test's process id), no input
        .query(&format!("SELECT n FROM {table} ORDER BY n"), &[])
        .await
        .expect("select")
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(
        rows,
        vec![1],
        "the committed row stays, the rolled-back one does not"
    );
    check
        // sql: the table name is ours (the test's process id), no input
        .batch_execute(&format!("DROP TABLE {table}"))
        .await
        .expect("drop");
    drop(check);
    pool.close().await;
}

/// How many statements the session of `client` has prepared (what the server holds, not
/// what the cache says). Asked with the simple protocol: a `query` would prepare, and
/// count, a statement of its own.
async fn prepared_on_server(client: &pool_postgres::Client) -> i64 {
    let messages = client
        .simple_query("SELECT count(*) FROM pg_prepared_statements")
        .await
        .expect("pg_prepared_statements");
    messages
        .iter()
        .find_map(|message| match message {
            pool_postgres::tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0),
            _ => None,
        })
        .and_then(|count| count.parse().ok())
        .expect("a count")
}

#[tokio::test]
#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
async fn prepare_cached_keeps_at_most_statement_cache_size_statements() {
    let Some(url) = Server::Postgres.admin_url("prepare_cached_keeps_at_most") else {
        return;
    };
    let pool = pool_postgres::Config::from_url(&format!(
        "{url}?connection_limit=1&statement_cache_size=2"
    ))
    .map_err(pool_postgres::Error::from)
    .and_then(|config| config.build_pool("statement_cache"))
    .expect("pool");
    let client = pool.get().await.expect("checkout");
    assert_eq!(client.statement_cache_capacity(), 2);
    let first = client
        .prepare_cached("SELECT $1::int8 + 1")
        .await
        .expect("prepare");
    let again = client
        .prepare_cached("SELECT $1::int8 + 1")
        .await
        .expect("cached");
    assert_eq!(
        format!("{first:?}"),
        format!("{again:?}"),
        "the same statement"
    );
    let row = client.query_one(&again, &[&41_i64]).await.expect("query");
    assert_eq!(row.get::<_, i64>(0), 42);
    drop((first, again));
    assert_eq!(client.statement_cache_len(), 1);
    assert_eq!(prepared_on_server(&client).await, 1);

    client
        .prepare_cached("SELECT $1::text")
        .await
        .expect("second");
    // `SELECT $1::int8 + 1` used last: the text statement is the oldest when a third comes.
    client
        .prepare_cached("SELECT $1::int8 + 1")
        .await
        .expect("hit");
    client
        .prepare_cached("SELECT $1::int4 * 2")
        .await
        .expect("third");
    assert_eq!(client.statement_cache_len(), 2, "bounded");
    // The evicted statement's `Close` went out before this query: the server holds two.
    assert_eq!(prepared_on_server(&client).await, 2);
    let two: i32 = client
        .query_one_cached("SELECT $1::int4 * 2", &[&21_i32])
        .await
        .expect("cached query")
        .get(0);
    assert_eq!(two, 42);
    assert_eq!(client.statement_cache_len(), 2, "a hit, nothing added");

    // A row holds its statement too: once it is gone, nothing holds any.
    drop(row);
    client.clear_statement_cache();
    assert_eq!(client.statement_cache_len(), 0);
    assert_eq!(prepared_on_server(&client).await, 0);
    drop(client);
    pool.close().await;
}

#[tokio::test]
#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
async fn statement_cache_size_zero_keeps_nothing_and_the_cache_dies_with_its_connection() {
    let Some(url) = Server::Postgres.admin_url("statement_cache_size_zero") else {
        return;
    };
    let off = pool_postgres::Config::from_url(&format!(
        "{url}?connection_limit=1&statement_cache_size=0"
    ))
    .map_err(pool_postgres::Error::from)
    .and_then(|config| config.build_pool("statement_cache_off"))
    .expect("pool");
    let client = off.get().await.expect("checkout");
    assert_eq!(client.statement_cache_capacity(), 0);
    let held = client.prepare_cached("SELECT 1").await.expect("prepare");
    let other = client.prepare_cached("SELECT 1").await.expect("prepare");
    assert_ne!(
        format!("{held:?}"),
        format!("{other:?}"),
        "prepared afresh each time"
    );
    assert_eq!(client.statement_cache_len(), 0);
    assert_eq!(
        prepared_on_server(&client).await,
        2,
        "the caller holds both"
    );
    drop((held, other));
    assert_eq!(prepared_on_server(&client).await, 0, "closed when dropped");
    let rows = client
        .execute_cached("SELECT 1", &[])
        .await
        .expect("execute");
    assert_eq!(rows, 1);
    assert_eq!(prepared_on_server(&client).await, 0);
    drop(client);
    off.close().await;

    // The default capacity is 100; a connection the pool closes takes its statements with
    // it, and its replacement starts empty.
    let pool = pool_postgres::Config::from_url(&format!("{url}?connection_limit=1"))
        .map_err(pool_postgres::Error::from)
        .and_then(|config| config.build_pool("statement_cache_default"))
        .expect("pool");
    let client = pool.get().await.expect("checkout");
    assert_eq!(client.statement_cache_capacity(), 100);
    client.prepare_cached("SELECT 2").await.expect("prepare");
    assert_eq!(client.statement_cache_len(), 1);
    client.discard();
    let fresh = pool.get().await.expect("a new connection");
    assert_eq!(fresh.statement_cache_len(), 0);
    assert_eq!(prepared_on_server(&fresh).await, 0);
    drop(fresh);
    pool.close().await;
}

/// What a `#[pooled]` function taking `&mut tokio_postgres::Client` needs of its pool's
/// manager (pool-core's `ConnectionFor` is implemented for exactly this bound): the
/// connection borrows as the driver's client.
async fn through_the_drivers_client<M>(pool: &pool_postgres::Pool<M>, n: i64) -> i64
where
    M: Manager<Connection: BorrowMut<pool_postgres::tokio_postgres::Client>>,
{
    let mut conn = pool.get().await.expect("checkout");
    let driver: &mut pool_postgres::tokio_postgres::Client = (*conn).borrow_mut();
    driver
        .query_one("SELECT $1::int8 + 1", &[&n])
        .await
        .expect("query")
        .get(0)
}

#[tokio::test]
#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
async fn the_connection_borrows_as_the_drivers_client() {
    let Some(url) = Server::Postgres.admin_url("the_connection_borrows_as_the_drivers_client")
    else {
        return;
    };
    let pool = pool_postgres::Config::from_url(&url)
        .map_err(pool_postgres::Error::from)
        .and_then(|config| config.build_pool("borrows"))
        .expect("pool");
    assert_eq!(through_the_drivers_client(&pool, 41).await, 42);
    pool.close().await;
}

#[test]
fn both_bindings_read_the_one_statement_cache_size() {
    for (query, sqlx_reads, postgres_keeps) in [
        ("", None, 100),
        ("?statement_cache_size=7", Some(7), 7),
        ("?statement_cache_size=0", Some(0), 0),
        ("?pgbouncer=true", None, 0),
    ] {
        let url = format!("postgres://app@db/app{query}");
        let sqlx = pool_sqlx::Config::from_url(&url)
            .map_err(pool_sqlx::Error::from)
            .and_then(|config| config.manager::<sqlx::Postgres>())
            .expect("pool-sqlx manager");
        assert_eq!(
            sqlx.session_settings().statement_cache_size,
            sqlx_reads,
            "{url}"
        );
        let postgres = pool_postgres::Config::from_url(&url)
            .map_err(pool_postgres::Error::from)
            .and_then(|config| config.manager())
            .expect("pool-postgres manager");
        assert_eq!(postgres.statement_cache_capacity(), postgres_keeps, "{url}");
    }
}

/// A pool of one connection from `url`, never validated at checkout (what the tests below
/// watch is the return and the recovery, not the check), recoveries bounded by
/// `check_timeout`.
fn one_connection(url: &str, check_timeout: Duration) -> pool_postgres::PostgresPool {
    pool_postgres::Config::from_url(url)
        .map_err(pool_postgres::Error::from)
        .and_then(|config| config.pool_builder("one"))
        .map(|builder| {
            builder
                .max_size(1)
                .validation(pool_postgres::Validation::Never)
                .check_timeout(check_timeout)
        })
        .and_then(|builder| Ok(builder.build()?))
        .expect("pool")
}

async fn backend_pid(client: &pool_postgres::Client) -> i32 {
    client
        .query_one_cached("SELECT pg_backend_pid()", &[])
        .await
        .expect("pid")
        .get(0)
}

async fn terminate(url: &str, pid: i32) {
    let mut admin = PgConnection::connect(url).await.expect("admin");
    sqlx::query("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .execute(&mut admin)
        .await
        .expect("terminate");
}

#[tokio::test]
#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
async fn a_lost_session_seen_through_the_wrapper_is_not_returned_to_idle() {
    let Some(url) = Server::Postgres.admin_url("a_lost_session_seen_through_the_wrapper") else {
        return;
    };
    let pool = one_connection(&url, Duration::from_secs(5));
    // A plain checkout: no `begin_operation`, nothing but the client to tell the pool.
    let client = pool.get().await.expect("checkout");
    let pid = backend_pid(&client).await;
    terminate(&url, pid).await;
    let error = client
        .query_one_cached("SELECT 1", &[])
        .await
        .expect_err("the session is gone");
    assert_eq!(error.class(), ErrorClass::Connection, "{error}");
    assert!(
        client.is_broken(),
        "remembered, whatever is_closed() says yet"
    );
    drop(client);
    let again = pool.get().await.expect("a new connection");
    assert_ne!(backend_pid(&again).await, pid, "not handed out again");
    assert_eq!(pool.metrics().closed_broken, 1);

    // A call through `Deref`, its result passed through `observe`.
    let pid = backend_pid(&again).await;
    terminate(&url, pid).await;
    let seen = again.observe(again.simple_query("SELECT 1").await);
    assert!(seen.is_err(), "the session is gone");
    assert!(again.is_broken());
    drop(again);
    let third = pool.get().await.expect("a new connection");
    assert_ne!(backend_pid(&third).await, pid);
    let metrics = pool.metrics();
    assert_eq!(
        (metrics.connections_created, metrics.closed_broken),
        (3, 2),
        "{metrics:?}"
    );
    drop(third);
    pool.close().await;
}

/// How long a cancelled call runs before its future is dropped.
const CANCEL_AFTER: Duration = Duration::from_millis(50);

/// Starts `SELECT pg_sleep(seconds)` on `client` and drops the request before its answer.
async fn cancel_a_sleep(client: &pool_postgres::Client, seconds: f64) {
    let params: [&(dyn ToSql + Sync); 1] = [&seconds];
    let sleep = client.query_one("SELECT pg_sleep($1)", &params);
    assert!(
        tokio::time::timeout(CANCEL_AFTER, sleep).await.is_err(),
        "the sleep ended before it could be cancelled"
    );
}

#[tokio::test]
#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
async fn a_client_returned_with_a_request_in_flight_follows_the_dirty_return_rule() {
    let Some(url) = Server::Postgres.admin_url("a_client_returned_with_a_request_in_flight") else {
        return;
    };
    // The answer comes within `check_timeout`: the recovery's check is answered after it,
    // outside a transaction, and the same session serves the next checkout.
    let pool = one_connection(&url, Duration::from_secs(5));
    let mut client = pool.get().await.expect("checkout");
    let pid = backend_pid(&client).await;
    client.begin_operation();
    cancel_a_sleep(&client, 0.5).await;
    drop(client);
    let status = pool.status();
    assert_eq!(
        (status.size, status.in_use, status.idle),
        (1, 1, 0),
        "the connection under recovery still counts (as in use, by the recovery): {status:?}"
    );
    let again = pool.get().await.expect("the recovered connection");
    assert_eq!(backend_pid(&again).await, pid, "recovered, not reconnected");
    drop(again);
    let metrics = pool.metrics();
    assert_eq!(
        (
            metrics.connections_created,
            metrics.recovered,
            metrics.closed_broken
        ),
        (1, 1, 0),
        "{metrics:?}"
    );
    let status = pool.status();
    assert_eq!(
        (status.size, status.in_use, status.idle),
        (1, 0, 1),
        "{status:?}"
    );
    pool.close().await;

    // The answer outlasts `check_timeout`: the recovery gives up, the client is closed and
    // the next checkout opens a new session; no slot is lost.
    let pool = one_connection(&url, Duration::from_millis(300));
    let mut client = pool.get().await.expect("checkout");
    let pid = backend_pid(&client).await;
    client.begin_operation();
    cancel_a_sleep(&client, 5.0).await;
    drop(client);
    let again = pool.get().await.expect("a new connection");
    assert_ne!(
        backend_pid(&again).await,
        pid,
        "closed, not handed out again"
    );
    drop(again);
    let metrics = pool.metrics();
    assert_eq!(
        (
            metrics.connections_created,
            metrics.recovered,
            metrics.closed_broken
        ),
        (2, 0, 1),
        "{metrics:?}"
    );
    let status = pool.status();
    assert_eq!(
        (status.size, status.in_use, status.idle),
        (1, 0, 1),
        "{status:?}"
    );
    pool.close().await;

    // No operation marked (a plain checkout): the pool cannot know, and takes the client
    // back idle at once. tokio-postgres answers requests in order and reads the dropped
    // one's answer past, so the next caller's query is answered, after it, by the same
    // session (it waits out the rest of the sleep).
    let pool = one_connection(&url, Duration::from_secs(5));
    let client = pool.get().await.expect("checkout");
    let pid = backend_pid(&client).await;
    cancel_a_sleep(&client, 0.3).await;
    drop(client);
    let status = pool.status();
    assert_eq!(
        (status.size, status.in_use, status.idle),
        (1, 0, 1),
        "{status:?}"
    );
    let again = pool.get().await.expect("checkout");
    assert_eq!(backend_pid(&again).await, pid);
    drop(again);
    assert_eq!(pool.metrics().recovered, 0);
    pool.close().await;
}

/// The first value of a simple query's first row.
async fn simple_value(client: &pool_postgres::Client, sql: &str) -> String {
    client
        .simple_query(sql)
        .await
        .expect("simple query")
        .iter()
        .find_map(|message| match message {
            pool_postgres::tokio_postgres::SimpleQueryMessage::Row(row) => {
                row.get(0).map(str::to_owned)
            }
            _ => None,
        })
        .expect("a row")
}

#[tokio::test]
#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
async fn behind_pgbouncer_nothing_prepared_outlives_its_transaction() {
    use pool_postgres::tokio_postgres::types::Type;
    use pool_postgres::transaction::Transaction;
    let Some(db) = tests::db::postgres("pool_postgres_bouncer").await else {
        return;
    };
    // One server connection under two client connections.
    let Some(bouncer) = tests::pgbouncer::PgBouncer::start(&db, 1).await else {
        db.cleanup().await;
        return;
    };
    let pool = pool_postgres::Config::from_url(
        &bouncer.url_with("pgbouncer=true&connection_limit=2&statement_timeout=5s"),
    )
    .map_err(pool_postgres::Error::from)
    .and_then(|config| config.build_pool("bouncer"))
    .expect("pool");
    let engine: Transaction<pool_postgres::PostgresManager, pool_postgres::Error> =
        Transaction::new();
    // Two client connections at once, taking turns on the one server connection: each
    // transaction prepares (afresh: no cache) and drops its statement before it ends.
    let mut clients = vec![
        pool.get().await.expect("checkout"),
        pool.get().await.expect("checkout"),
    ];
    for n in 0..6_i64 {
        let Some(client) = clients.pop() else {
            unreachable!("two clients")
        };
        assert_eq!(client.statement_cache_capacity(), 0);
        let open = engine.begin(client).await.expect("begin");
        let statement = open
            .prepare_cached("SELECT $1::int8 + 1")
            .await
            .expect("prepare");
        let got: i64 = open
            .query_one(&statement, &[&n])
            .await
            .expect("query")
            .get(0);
        assert_eq!(got, n + 1);
        assert_eq!(open.statement_cache_len(), 0, "nothing kept");
        assert_eq!(
            simple_value(&open, "SHOW statement_timeout").await,
            "5s",
            "SET LOCAL in the transaction"
        );
        drop(statement);
        let client = engine
            .deliver(engine.end(open, Ok::<_, pool_postgres::Error>(())).await)
            .map_err(|error| error.to_string());
        assert_eq!(client, Ok(()), "commit");
        // The one just returned: the other is still held.
        clients.insert(0, pool.get().await.expect("checkout"));
    }
    let client = clients.pop().expect("a client");
    // Outside a transaction: the session has no timeout (nothing leaked onto the server
    // connection), no statement is left on it, and `query_typed`'s unnamed statement works.
    assert_eq!(simple_value(&client, "SHOW statement_timeout").await, "0");
    assert_eq!(
        simple_value(&client, "SELECT count(*) FROM pg_prepared_statements").await,
        "0"
    );
    let rows = client
        .query_typed("SELECT $1::int8 * 2", &[(&21_i64, Type::INT8)])
        .await
        .expect("query_typed");
    assert_eq!(rows[0].get::<_, i64>(0), 42);
    drop((client, clients));
    pool.close().await;
    drop(bouncer);
    db.cleanup().await;
}
