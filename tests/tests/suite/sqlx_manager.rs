//! `SqlxManager` on the real servers: discarding connections whose
//! query was dropped mid-flight or failed with a `Connection`-class error, and never
//! handing out a connection left inside a transaction.

use std::time::{Duration, Instant};

use pool_sqlx::{
    Classify, Config, ErrorClass, Manager, MySqlPool, PgPool, Pool, SqlxManager,
    TransactionManager, Validation,
    sqlx::{self, Executor, MySql, Postgres, Row, Sqlite},
};
use tests::db;

async fn pg_pool(url: &str, validation: Validation) -> PgPool {
    Config::from_url(url)
        .unwrap()
        .pool_builder::<Postgres>("mgr")
        .unwrap()
        .max_size(2)
        .validation(validation)
        .build()
        .unwrap()
}

async fn pid(conn: &mut pool_sqlx::Pooled<SqlxManager<Postgres>>) -> i32 {
    sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut ***conn)
        .await
        .unwrap()
}

async fn pg_in_transaction(conn: &mut pool_sqlx::Pooled<SqlxManager<Postgres>>) -> bool {
    // One simple-protocol message: now() equals statement_timestamp() outside a block.
    let row = sqlx::raw_sql("SELECT now() = statement_timestamp()")
        .fetch_one(&mut ***conn)
        .await
        .unwrap();
    !row.get::<bool, _>(0)
}

async fn my_in_transaction(conn: &mut pool_sqlx::Pooled<SqlxManager<MySql>>) -> i64 {
    sqlx::query_scalar("SELECT CAST(@@in_transaction AS SIGNED)")
        .fetch_one(&mut ***conn)
        .await
        .unwrap()
}

#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test]
async fn an_operation_guard_dropped_mid_flight_discards_the_connection() {
    let Some(db) = db::postgres("pg_dropped").await else {
        return;
    };
    let pool = pg_pool(&db.url, Validation::Never).await;

    // The manual path: an `operation()` guard dropped before `finish` marks the
    // connection broken (a `Pooled::begin_operation` cancelled mid-query is recovered
    // instead: `cancelled_calls`).
    let mut conn = pool.get().await.unwrap();
    let first = pid(&mut conn).await;
    let started = Instant::now();
    {
        let mut op = conn.operation();
        let slow = sqlx::query("SELECT pg_sleep(10)").execute(&mut *op);
        assert!(
            tokio::time::timeout(Duration::from_millis(50), slow)
                .await
                .is_err()
        );
    }
    drop(conn);
    let mut conn = pool.get().await.unwrap();
    let second = pid(&mut conn).await;
    assert_ne!(
        second, first,
        "the abandoned connection was handed out again"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the return path blocked"
    );

    // A finished operation keeps the connection.
    {
        let mut op = conn.operation();
        let result = sqlx::query("SELECT 1").execute(&mut *op).await;
        op.finish(&result);
    }
    drop(conn);
    let mut conn = pool.get().await.unwrap();
    assert_eq!(pid(&mut conn).await, second);
    assert_eq!(pool.metrics().closed_broken, 1);
    drop(conn);
    pool.close().await;
    db.cleanup().await;
}

#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test]
async fn a_connection_class_error_discards_the_connection() {
    let Some(db) = db::postgres("pg_conn_error").await else {
        return;
    };
    let pool = pg_pool(&db.url, Validation::Never).await;
    let mut admin = pool.get().await.unwrap();
    let mut conn = pool.get().await.unwrap();
    let victim = pid(&mut conn).await;
    sqlx::query("SELECT pg_terminate_backend($1, 5000)")
        .bind(victim)
        .execute(&mut **admin)
        .await
        .unwrap();
    let result = sqlx::query("SELECT 1").execute(&mut **conn).await;
    assert_eq!(
        pool_sqlx::classify::classify(result.as_ref().unwrap_err()),
        ErrorClass::Connection
    );
    conn.observe(&result);
    assert!(conn.is_broken());
    drop(conn);
    drop(admin);
    for _ in 0..2 {
        let mut conn = pool.get().await.unwrap();
        assert_ne!(pid(&mut conn).await, victim);
    }
    // The health check on a dead connection fails with a Connection-class error.
    let mut conn = pool.get().await.unwrap();
    let mut admin = pool.get().await.unwrap();
    let victim = pid(&mut conn).await;
    sqlx::query("SELECT pg_terminate_backend($1, 5000)")
        .bind(victim)
        .execute(&mut **admin)
        .await
        .unwrap();
    let error = pool.manager().check(&mut conn).await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::Connection);
    assert!(pool.manager().has_broken(&mut conn));
    drop((conn, admin));
    pool.close().await;
    db.cleanup().await;
}

#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test]
async fn pg_a_connection_returned_inside_a_transaction_is_never_handed_out_dirty() {
    let Some(db) = db::postgres("pg_dirty").await else {
        return;
    };
    // Transactions sqlx knows about (`#[pooled(transaction)]` uses these): discarded on return.
    let pool = pg_pool(&db.url, Validation::Never).await;
    let mut conn = pool.get().await.unwrap();
    pool.manager().begin(&mut conn).await.unwrap();
    sqlx::query("CREATE TABLE t (id int)")
        .execute(&mut **conn)
        .await
        .unwrap();
    assert!(pool.manager().has_broken(&mut conn));
    drop(conn);
    let mut conn = pool.get().await.unwrap();
    assert!(!pg_in_transaction(&mut conn).await);
    // The table was rolled back with the discarded connection.
    assert!(
        sqlx::query("SELECT * FROM t")
            .execute(&mut **conn)
            .await
            .is_err()
    );
    // begin + commit keeps the connection.
    pool.manager().begin(&mut conn).await.unwrap();
    pool.manager().commit(&mut conn).await.unwrap();
    assert!(!pool.manager().has_broken(&mut conn));
    drop(conn);
    pool.close().await;

    // A raw `BEGIN` sqlx cannot see: caught by the check (validation on checkout).
    let pool = pg_pool(&db.url, Validation::Always).await;
    let mut conn = pool.get().await.unwrap();
    conn.execute("BEGIN").await.unwrap();
    drop(conn);
    for _ in 0..3 {
        let mut conn = pool.get().await.unwrap();
        assert!(!pg_in_transaction(&mut conn).await);
    }
    assert_eq!(pool.metrics().closed_invalid, 1);
    pool.close().await;
    db.cleanup().await;
}

#[cfg_attr(no_mysql, ignore = "set TEST_MYSQL_URL to run (README: Set-up)")]
#[tokio::test]
async fn mysql_a_connection_returned_inside_a_transaction_or_killed_is_discarded() {
    let Some(db) = db::mysql("my_dirty").await else {
        return;
    };
    let pool: MySqlPool = Config::from_url(&db.url)
        .unwrap()
        .pool_builder::<MySql>("my")
        .unwrap()
        .max_size(2)
        .validation(Validation::Always)
        .build()
        .unwrap();
    let mut conn = pool.get().await.unwrap();
    pool.manager().begin(&mut conn).await.unwrap();
    assert!(pool.manager().has_broken(&mut conn));
    drop(conn);
    let mut conn = pool.get().await.unwrap();
    assert_eq!(my_in_transaction(&mut conn).await, 0);
    conn.execute("BEGIN").await.unwrap();
    drop(conn);
    let mut conn = pool.get().await.unwrap();
    assert_eq!(my_in_transaction(&mut conn).await, 0);
    assert_eq!(pool.metrics().closed_broken, 1); // begun through sqlx: on return
    assert_eq!(pool.metrics().closed_invalid, 1); // raw BEGIN: by the check

    // KILL: the next query fails with a Connection-class error; observed, it is discarded.
    let id: u64 = sqlx::query_scalar("SELECT CONNECTION_ID()")
        .fetch_one(&mut **conn)
        .await
        .unwrap();
    let mut admin = pool.get().await.unwrap();
    // sql: a connection id the server gave us (an integer)
    sqlx::query(sqlx::AssertSqlSafe(format!("KILL {id}")))
        .execute(&mut **admin)
        .await
        .unwrap();
    let result = sqlx::query("SELECT 1").execute(&mut **conn).await;
    conn.observe(&result);
    assert!(conn.is_broken());
    drop((conn, admin));
    let mut conn = pool.get().await.unwrap();
    let new_id: u64 = sqlx::query_scalar("SELECT CONNECTION_ID()")
        .fetch_one(&mut **conn)
        .await
        .unwrap();
    assert_ne!(new_id, id);
    drop(conn);
    pool.close().await;
    db.cleanup().await;
}

#[tokio::test]
async fn sqlite_pool_round_trip_and_transaction_manager() {
    let (_dir, url) = db::sqlite("sqlite_pool");
    let pool: Pool<SqlxManager<Sqlite>> = Config::from_url(&url)
        .unwrap()
        .build_pool::<Sqlite>("lite")
        .unwrap();
    let mut conn = pool.get().await.unwrap();
    conn.execute("CREATE TABLE t (v INTEGER)").await.unwrap();
    pool.manager().begin(&mut conn).await.unwrap();
    conn.execute("INSERT INTO t VALUES (1)").await.unwrap();
    pool.manager().rollback(&mut conn).await.unwrap();
    pool.manager().begin(&mut conn).await.unwrap();
    conn.execute("INSERT INTO t VALUES (2)").await.unwrap();
    pool.manager().commit(&mut conn).await.unwrap();
    let values: Vec<i64> = sqlx::query_scalar("SELECT v FROM t")
        .fetch_all(&mut **conn)
        .await
        .unwrap();
    assert_eq!(values, [2]);
    pool.manager().check(&mut conn).await.unwrap();
    assert!(!pool.manager().has_broken(&mut conn));
}
