#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `?keepalive=` on a real server: an idle connection whose session the server ended
//! (as a firewall, a NAT or a server restart would) is found and closed by the pool's
//! background task, with no checkout to stumble on it, and `min_idle` refills with a
//! live one, on PostgreSQL and on MariaDB.
//!
//! ```sh
//! TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//! TEST_MYSQL_URL=mysql://root@127.0.0.1:3306/test CI=true \
//!   cargo test -p tests --test suite sqlx_keepalive::
//! ```

use std::time::Duration;

use pool_sqlx::{
    Backend, Config, Pool, SqlxManager,
    sqlx::{self, MySql, Postgres},
};
use tests::db::{self, Server, TestDb, admin_execute};
use tokio::time::Instant;

/// How long the background task may take to find and replace the dead connection: two
/// ticks of half the keepalive, plus a connect, with room for a loaded machine.
const FOUND_WITHIN: Duration = Duration::from_secs(10);

trait Target {
    type DB: Backend;
    const LABEL: &'static str;
    /// The session id of a connection.
    async fn session(pool: &Pool<SqlxManager<Self::DB>>) -> i64;
    /// The statement that ends session `id` from another connection.
    fn kill(id: i64) -> String;
}

struct Pg;
impl Target for Pg {
    type DB = Postgres;
    const LABEL: &'static str = "pg";
    async fn session(pool: &Pool<SqlxManager<Postgres>>) -> i64 {
        let mut conn = pool.get().await.unwrap();
        sqlx::query_scalar("SELECT pg_backend_pid()::int8")
            .fetch_one(conn.raw_mut())
            .await
            .unwrap()
    }
    fn kill(id: i64) -> String {
        // sql: an integer session id
        format!("SELECT pg_terminate_backend({id})")
    }
}

struct Maria;
impl Target for Maria {
    type DB = MySql;
    const LABEL: &'static str = "mariadb";
    async fn session(pool: &Pool<SqlxManager<MySql>>) -> i64 {
        let mut conn = pool.get().await.unwrap();
        sqlx::query_scalar("SELECT CAST(CONNECTION_ID() AS SIGNED)")
            .fetch_one(conn.raw_mut())
            .await
            .unwrap()
    }
    fn kill(id: i64) -> String {
        // sql: an integer session id
        format!("KILL {id}")
    }
}

async fn a_dead_idle_connection_is_found_without_a_checkout<T: Target>(db: TestDb) {
    let pool = Config::from_url(&db.url_with("keepalive=1s"))
        .unwrap()
        .pool_builder::<T::DB>(&format!("keepalive_{}", T::LABEL))
        .unwrap()
        .min_idle(1)
        .max_size(1)
        .build_and_connect()
        .await
        .unwrap();
    let killed = T::session(&pool).await;
    admin_execute(db.server, db.admin_url(), &T::kill(killed)).await;
    let before = pool.metrics();

    // No checkout from here on: only the background task touches the pool.
    let started = Instant::now();
    loop {
        let metrics = pool.metrics();
        if metrics.closed_invalid == before.closed_invalid + 1
            && metrics.connections_created == before.connections_created + 1
            && pool.status().idle == 1
        {
            break;
        }
        assert!(
            started.elapsed() < FOUND_WITHIN,
            "{}: not found and replaced within {FOUND_WITHIN:?}: {metrics:?} {:?}",
            T::LABEL,
            pool.status()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let metrics = pool.metrics();
    assert_eq!(
        metrics.checkouts_direct + metrics.checkouts_waited,
        before.checkouts_direct + before.checkouts_waited,
        "found by the background task, not by a checkout"
    );
    // The first caller afterwards gets the live replacement.
    let session = T::session(&pool).await;
    assert_ne!(session, killed);
    assert_eq!(pool.metrics().closed_broken, before.closed_broken);
    pool.close().await;
    db.cleanup().await;
}

#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test]
async fn postgres_a_dead_idle_connection_is_found_without_a_checkout() {
    let Some(db) = db::postgres("keepalive").await else {
        return;
    };
    assert_eq!(db.server, Server::Postgres);
    a_dead_idle_connection_is_found_without_a_checkout::<Pg>(db).await;
}

#[cfg_attr(no_mysql, ignore = "set TEST_MYSQL_URL to run (README: Set-up)")]
#[tokio::test]
async fn mariadb_a_dead_idle_connection_is_found_without_a_checkout() {
    let Some(db) = db::mysql("keepalive").await else {
        return;
    };
    a_dead_idle_connection_is_found_without_a_checkout::<Maria>(db).await;
}
