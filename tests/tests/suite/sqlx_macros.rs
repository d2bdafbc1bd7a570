//! `#[resilient]` + `#[pooled(transaction)]` on sqlx connections: the generated code
//! checks a `SqlxConnection` out, hands the body `&mut PgConnection`, commits or rolls back
//! through `SqlxManager`'s `TransactionManager`, and re-runs the whole transaction after a
//! serialization failure.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use pool_sqlx::{
    Config, Error, PgPool, pooled, resilient,
    sqlx::{self, Executor, PgConnection, Postgres},
};
use tests::{db, transfers};

static ATTEMPTS: AtomicUsize = AtomicUsize::new(0);

#[resilient(retries = 100, base = "1ms", max_delay = "20ms", jitter = "full")]
#[pooled(transaction)]
async fn transfer(
    conn: &mut PgConnection,
    id: i64,
    from: i64,
    to: i64,
    amount: i64,
) -> Result<(), Error> {
    ATTEMPTS.fetch_add(1, Ordering::Relaxed);
    conn.execute("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")
        .await?;
    let balance: i64 = sqlx::query_scalar("SELECT balance FROM accounts WHERE id = $1")
        .bind(from)
        .fetch_one(&mut *conn)
        .await?;
    sqlx::query("UPDATE accounts SET balance = $1 WHERE id = $2")
        .bind(balance - amount)
        .bind(from)
        .execute(&mut *conn)
        .await?;
    sqlx::query("UPDATE accounts SET balance = balance + $1 WHERE id = $2")
        .bind(amount)
        .bind(to)
        .execute(&mut *conn)
        .await?;
    sqlx::query("INSERT INTO transfers VALUES ($1)")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

#[pooled]
async fn total(conn: &mut PgConnection) -> Result<(i64, i64), Error> {
    Ok(sqlx::query_as(
        "SELECT (SELECT sum(balance) FROM accounts)::bigint, (SELECT count(*) FROM transfers)",
    )
    .fetch_one(&mut *conn)
    .await?)
}

#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test]
async fn pooled_transaction_transfers_are_retried_and_applied_once() {
    let Some(db) = db::postgres("pg_macro_transfers").await else {
        return;
    };
    let pool: PgPool = Config::from_url(&db.url_with("connection_limit=6"))
        .unwrap()
        .build_pool::<Postgres>("macros")
        .unwrap();
    pool.get()
        .await
        .unwrap()
        .execute(transfers::SCHEMA)
        .await
        .unwrap();
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
    eprintln!("#[pooled(transaction)]: 36 transfers took {attempts} attempts");
    assert!(attempts >= 36);
    // Rolled-back or committed, never returned dirty: nothing was discarded as broken.
    assert_eq!(pool.metrics().closed_broken, 0);
    pool.close().await;
    db.cleanup().await;
}

/// A service's own error type with one conversion, `From<pool_sqlx::Error>`, through the
/// doors that have no server fault to produce: a failed checkout, a policy's rejection,
/// the service's own error, and a plain success (SQLite, no server needed).
mod one_conversion {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use pool_sqlx::{
        Classify, Config, DeclaredBreaker, Error, ErrorClass, PoolError, Rejected, pooled,
        resilient,
        sqlx::{self, Sqlite, SqliteConnection},
    };
    use tests::app_error::AppError;

    static GUARDED: DeclaredBreaker = DeclaredBreaker::new("one_conversion_guarded");
    static LOOKUPS: AtomicUsize = AtomicUsize::new(0);

    #[pooled]
    async fn answer(conn: &mut SqliteConnection) -> Result<i64, AppError> {
        Ok(sqlx::query_scalar("SELECT 42")
            .fetch_one(&mut *conn)
            .await?)
    }

    #[resilient(retries = 2, base = "1ms")]
    #[pooled]
    async fn find_user(conn: &mut SqliteConnection, id: i64) -> Result<i64, AppError> {
        LOOKUPS.fetch_add(1, Ordering::SeqCst);
        let found: Option<i64> = sqlx::query_scalar("SELECT 1 WHERE 1 = ?")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
        found.ok_or(AppError::NotFound(id))
    }

    #[resilient(breaker = GUARDED)]
    async fn guarded() -> Result<(), AppError> {
        Ok(())
    }

    #[tokio::test]
    async fn every_door_needs_only_from_pool_sqlx_error() {
        let pool = Config::from_url("sqlite::memory:")
            .unwrap()
            .build_pool::<Sqlite>("one_conversion")
            .unwrap();
        assert_eq!(answer(&pool).await.unwrap(), 42);
        assert_eq!(find_user(&pool, 1).await.unwrap(), 1);

        // The service's own error: permanent, so not retried.
        LOOKUPS.store(0, Ordering::SeqCst);
        let missing = find_user(&pool, 7).await.unwrap_err();
        assert!(matches!(missing, AppError::NotFound(7)), "{missing:?}");
        assert_eq!(LOOKUPS.load(Ordering::SeqCst), 1);

        // A policy's rejection reaches the service's error through `pool_sqlx::Error`.
        GUARDED.breaker().unwrap().force_open();
        let rejected = guarded().await.unwrap_err();
        assert!(
            matches!(
                rejected,
                AppError::Db(Error::Rejected(Rejected::BreakerOpen { .. }))
            ),
            "{rejected:?}"
        );
        assert_eq!(rejected.class(), ErrorClass::Transient);

        // A failed checkout too.
        pool.close().await;
        let closed = answer(&pool).await.unwrap_err();
        assert!(
            matches!(closed, AppError::Db(Error::Pool(PoolError::Closed))),
            "{closed:?}"
        );
    }
}
