//! The attributes on pool-postgres (`crate = pool_postgres`, since this package depends
//! on both bindings): the pool type follows from `&mut tokio_postgres::Client`, the error
//! route is pool-postgres's (one conversion, `From<pool_postgres::Error>`), and the
//! transfer scenario pool-sqlx's attributes pass runs here from the same body
//! (`tests::transfers`).

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use pool_postgres::{
    Classify, Delivery, Error, ErrorClass, PoolError, PostgresPool, pooled, resilient,
    tokio_postgres::Client,
};
use tests::{db, transfers};

static ATTEMPTS: AtomicUsize = AtomicUsize::new(0);

#[resilient(crate = pool_postgres, retries = 100, base = "1ms", max_delay = "20ms", jitter = "full")]
#[pooled(transaction)]
async fn transfer(
    conn: &mut Client,
    id: i64,
    from: i64,
    to: i64,
    amount: i64,
) -> Result<(), Error> {
    ATTEMPTS.fetch_add(1, Ordering::Relaxed);
    conn.batch_execute("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")
        .await?;
    let balance: i64 = conn
        .query_one("SELECT balance FROM accounts WHERE id = $1", &[&from])
        .await?
        .get(0);
    conn.execute(
        "UPDATE accounts SET balance = $1 WHERE id = $2",
        &[&(balance - amount), &from],
    )
    .await?;
    conn.execute(
        "UPDATE accounts SET balance = balance + $1 WHERE id = $2",
        &[&amount, &to],
    )
    .await?;
    conn.execute("INSERT INTO transfers VALUES ($1)", &[&id])
        .await?;
    Ok(())
}

#[pooled(crate = pool_postgres)]
async fn total(conn: &mut Client) -> Result<(i64, i64), Error> {
    let row = conn
        .query_one(
            "SELECT (SELECT sum(balance) FROM accounts)::bigint, (SELECT count(*) FROM transfers)",
            &[],
        )
        .await?;
    Ok((row.get(0), row.get(1)))
}

fn pool(url: &str, name: &str) -> PostgresPool {
    pool_postgres::Config::from_url(url)
        .map_err(Error::from)
        .and_then(|config| config.build_pool(name))
        .expect("pool-postgres pool")
}

#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test]
async fn pooled_transaction_transfers_are_retried_and_applied_once() {
    let Some(db) = db::postgres("pp_macro_transfers").await else {
        return;
    };
    let pool = pool(&db.url_with("connection_limit=6"), "macros");
    pool.get()
        .await
        .expect("checkout")
        .batch_execute(transfers::SCHEMA)
        .await
        .expect("schema");
    let pool = Arc::new(pool);
    let totals = transfers::run(
        Arc::clone(&pool),
        |pool, id, from, to, amount| {
            Box::pin(async move { transfer(&pool, id, from, to, amount).await })
        },
        |pool| Box::pin(async move { total(&pool).await }),
    )
    .await;
    assert_eq!(totals, (4000, 36));
    let attempts = ATTEMPTS.load(Ordering::Relaxed);
    assert!(attempts >= 36, "{attempts} attempts");
    // Rolled back or committed, never returned dirty: nothing was discarded as broken.
    assert_eq!(pool.metrics().closed_broken, 0);
    pool.close().await;
    db.cleanup().await;
}

/// A service's own error type on pool-postgres: one conversion, `Classify` delegated.
#[derive(Debug, thiserror::Error)]
enum RepoError {
    #[error(transparent)]
    Db(#[from] Error),
    #[error("no row {0}")]
    NotFound(i32),
}

impl Classify for RepoError {
    fn class(&self) -> ErrorClass {
        match self {
            RepoError::Db(error) => error.class(),
            RepoError::NotFound(_) => ErrorClass::Permanent,
        }
    }

    fn delivery(&self) -> Delivery {
        match self {
            RepoError::Db(error) => error.delivery(),
            RepoError::NotFound(_) => Delivery::Rejected,
        }
    }
}

impl From<pool_postgres::tokio_postgres::Error> for RepoError {
    fn from(error: pool_postgres::tokio_postgres::Error) -> Self {
        RepoError::Db(error.into())
    }
}

static LOOKUPS: AtomicUsize = AtomicUsize::new(0);

#[resilient(crate = pool_postgres, retries = 2, base = "1ms", jitter = "none")]
#[pooled]
async fn lookup(conn: &mut Client, id: i32) -> Result<i32, RepoError> {
    LOOKUPS.fetch_add(1, Ordering::Relaxed);
    let row = conn
        .query_opt("SELECT g FROM generate_series(1, 3) g WHERE g = $1", &[&id])
        .await?;
    row.map(|row| row.get(0)).ok_or(RepoError::NotFound(id))
}

#[pooled(read, crate = pool_postgres)]
async fn read_one(conn: &mut Client) -> Result<i32, Error> {
    Ok(conn.query_one("SELECT 1::int4", &[]).await?.get(0))
}

#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test]
async fn one_conversion_carries_every_door() {
    let Some(url) = tests::db::Server::Postgres.admin_url("one_conversion_carries_every_door")
    else {
        return;
    };
    let pool = pool(&url, "one_conversion");
    // A success; the service's own error, permanent, not retried.
    assert_eq!(lookup(&pool, 2).await.ok(), Some(2));
    LOOKUPS.store(0, Ordering::Relaxed);
    assert!(matches!(
        lookup(&pool, 9).await,
        Err(RepoError::NotFound(9))
    ));
    assert_eq!(
        LOOKUPS.load(Ordering::Relaxed),
        1,
        "a permanent error is not retried"
    );
    // `read` on a plain pool: it reads from itself.
    assert_eq!(read_one(&pool).await.ok(), Some(1));
    // A failed checkout, through the one conversion: a closed pool.
    pool.close().await;
    match lookup(&pool, 2).await {
        Err(RepoError::Db(Error::Pool(PoolError::Closed))) => {}
        other => panic!("expected the closed pool's error, got {other:?}"),
    }
}
