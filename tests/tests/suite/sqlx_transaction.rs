//! `transaction(&pool, &policy, body)`: whole transactions re-run after serialization
//! failures and deadlocks, with real concurrent conflicting transfers on PostgreSQL and
//! MariaDB; commit failures with an unknown outcome retried only when idempotent.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use pool_sqlx::{
    Classify, Config, Delivery, Error, ErrorClass, Jitter, Pool, Resilience, SqlxManager,
    sqlx::{self, Executor, MySql, Postgres},
    transaction,
};
use tests::db;

const ACCOUNTS: i64 = 4;
const INITIAL: i64 = 1_000;
const WORKERS: i64 = 6;
const PER_WORKER: i64 = 8;

fn policy() -> Resilience {
    Resilience::builder("transfer")
        .retries(100)
        .base(Duration::from_millis(1))
        .max_delay(Duration::from_millis(20))
        .jitter(Jitter::Full)
        .build()
}

/// The transfer plan: deterministic, with pairs in both directions so locks cross.
fn plan() -> Vec<(i64, i64, i64, i64)> {
    let mut transfers = Vec::new();
    for worker in 0..WORKERS {
        for i in 0..PER_WORKER {
            let id = worker * 100 + i;
            let from = (worker + i) % ACCOUNTS;
            let to = (from + 1 + (i % (ACCOUNTS - 1))) % ACCOUNTS;
            transfers.push((id, from, to, 1 + (id % 37)));
        }
    }
    transfers
}

/// Runs every transfer of the plan, `WORKERS` at a time, and returns the attempt count.
async fn run_transfers<DB, F>(pool: &Pool<SqlxManager<DB>>, transfer: F) -> usize
where
    DB: pool_sqlx::Backend,
    F: Fn(
        Pool<SqlxManager<DB>>,
        Arc<AtomicUsize>,
        (i64, i64, i64, i64),
    ) -> tokio::task::JoinHandle<Result<(), Error>>,
{
    let attempts = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = plan()
        .into_iter()
        .map(|t| transfer(pool.clone(), Arc::clone(&attempts), t))
        .collect();
    for handle in handles {
        handle.await.unwrap().unwrap();
    }
    attempts.load(Ordering::Relaxed)
}

#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test]
async fn pg_concurrent_serializable_transfers_apply_exactly_once() {
    let Some(db) = db::postgres("pg_transfers").await else {
        return;
    };
    let pool = Config::from_url(&db.url_with("connection_limit=6"))
        .unwrap()
        .build_pool::<Postgres>("bank")
        .unwrap();
    {
        let mut conn = pool.get().await.unwrap();
        conn.execute(
            "CREATE TABLE accounts (id bigint PRIMARY KEY, balance bigint NOT NULL);
             CREATE TABLE transfers (id bigint PRIMARY KEY, src bigint, dst bigint, amount bigint);",
        )
        .await
        .unwrap();
        for id in 0..ACCOUNTS {
            sqlx::query("INSERT INTO accounts VALUES ($1, $2)")
                .bind(id)
                .bind(INITIAL)
                .execute(&mut **conn)
                .await
                .unwrap();
        }
    }
    let policy = Arc::new(policy());
    // Two transfers from account 0 (ids 0 and 400) both read its balance before either
    // writes, on their first attempt: one conflict is certain, whatever the scheduling.
    let overlap = Arc::new(tokio::sync::Barrier::new(2));
    let attempts = run_transfers(&pool, |pool, attempts, (id, from, to, amount)| {
        let policy = Arc::clone(&policy);
        let overlap = Arc::clone(&overlap);
        let first_attempt = Arc::new(std::sync::atomic::AtomicBool::new(true));
        tokio::spawn(async move {
            transaction(&pool, &policy, |conn| {
                let attempts = Arc::clone(&attempts);
                let overlap = Arc::clone(&overlap);
                let first_attempt = first_attempt.swap(false, Ordering::Relaxed);
                Box::pin(async move {
                    attempts.fetch_add(1, Ordering::Relaxed);
                    conn.execute("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")
                        .await?;
                    let balance: i64 =
                        sqlx::query_scalar("SELECT balance FROM accounts WHERE id = $1")
                            .bind(from)
                            .fetch_one(&mut *conn)
                            .await?;
                    if first_attempt && (id == 0 || id == 400) {
                        // Bounded: should the other fail before it gets here, go on.
                        let _ = tokio::time::timeout(Duration::from_secs(5), overlap.wait()).await;
                    }
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
                    sqlx::query("INSERT INTO transfers VALUES ($1, $2, $3, $4)")
                        .bind(id)
                        .bind(from)
                        .bind(to)
                        .bind(amount)
                        .execute(&mut *conn)
                        .await?;
                    Ok::<_, Error>(())
                })
            })
            .await
        })
    })
    .await;
    let mut conn = pool.get().await.unwrap();
    let applied: Vec<(i64, i64, i64, i64)> =
        sqlx::query_as("SELECT id, src, dst, amount FROM transfers ORDER BY id")
            .fetch_all(&mut **conn)
            .await
            .unwrap();
    let mut expected = plan();
    expected.sort();
    assert_eq!(applied, expected, "every transfer applied exactly once");
    let balances: Vec<(i64, i64)> = sqlx::query_as("SELECT id, balance FROM accounts ORDER BY id")
        .fetch_all(&mut **conn)
        .await
        .unwrap();
    assert_eq!(
        balances.iter().map(|(_, b)| b).sum::<i64>(),
        ACCOUNTS * INITIAL
    );
    for (account, balance) in balances {
        let net: i64 = expected
            .iter()
            .map(|(_, from, to, amount)| {
                (if *to == account { *amount } else { 0 })
                    - (if *from == account { *amount } else { 0 })
            })
            .sum();
        assert_eq!(balance, INITIAL + net, "account {account}");
    }
    let transfers = expected.len();
    eprintln!("postgres: {transfers} transfers took {attempts} attempts");
    assert!(
        attempts > transfers,
        "no serialization conflict happened: the test proved nothing"
    );
    drop(conn);
    pool.close().await;
    db.cleanup().await;
}

#[cfg_attr(no_mysql, ignore = "set TEST_MYSQL_URL to run (README: Set-up)")]
#[tokio::test]
async fn mariadb_concurrent_deadlocking_transfers_apply_exactly_once() {
    let Some(db) = db::mysql("my_transfers").await else {
        return;
    };
    let pool = Config::from_url(&db.url_with("connection_limit=6"))
        .unwrap()
        .build_pool::<MySql>("bank")
        .unwrap();
    {
        let mut conn = pool.get().await.unwrap();
        conn.execute(
            "CREATE TABLE accounts (id bigint PRIMARY KEY, balance bigint NOT NULL) ENGINE=InnoDB",
        )
        .await
        .unwrap();
        conn.execute("CREATE TABLE transfers (id bigint PRIMARY KEY, src bigint, dst bigint, amount bigint) ENGINE=InnoDB")
            .await
            .unwrap();
        for id in 0..ACCOUNTS {
            sqlx::query("INSERT INTO accounts VALUES (?, ?)")
                .bind(id)
                .bind(INITIAL)
                .execute(&mut **conn)
                .await
                .unwrap();
        }
    }
    let policy = Arc::new(policy());
    let attempts = run_transfers(&pool, |pool, attempts, (id, from, to, amount)| {
        let policy = Arc::clone(&policy);
        tokio::spawn(async move {
            transaction(&pool, &policy, |conn| {
                let attempts = Arc::clone(&attempts);
                Box::pin(async move {
                    attempts.fetch_add(1, Ordering::Relaxed);
                    // Lock the source, then the destination: opposite transfers deadlock.
                    let balance: i64 =
                        sqlx::query_scalar("SELECT balance FROM accounts WHERE id = ? FOR UPDATE")
                            .bind(from)
                            .fetch_one(&mut *conn)
                            .await?;
                    tokio::task::yield_now().await;
                    sqlx::query("UPDATE accounts SET balance = balance + ? WHERE id = ?")
                        .bind(amount)
                        .bind(to)
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("UPDATE accounts SET balance = ? WHERE id = ?")
                        .bind(balance - amount)
                        .bind(from)
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("INSERT INTO transfers VALUES (?, ?, ?, ?)")
                        .bind(id)
                        .bind(from)
                        .bind(to)
                        .bind(amount)
                        .execute(&mut *conn)
                        .await?;
                    Ok::<_, Error>(())
                })
            })
            .await
        })
    })
    .await;
    let mut conn = pool.get().await.unwrap();
    let applied: Vec<(i64, i64, i64, i64)> =
        sqlx::query_as("SELECT id, src, dst, amount FROM transfers ORDER BY id")
            .fetch_all(&mut **conn)
            .await
            .unwrap();
    let mut expected = plan();
    expected.sort();
    assert_eq!(applied, expected, "every transfer applied exactly once");
    let balances: Vec<(i64, i64)> = sqlx::query_as("SELECT id, balance FROM accounts ORDER BY id")
        .fetch_all(&mut **conn)
        .await
        .unwrap();
    assert_eq!(
        balances.iter().map(|(_, b)| b).sum::<i64>(),
        ACCOUNTS * INITIAL
    );
    for (account, balance) in balances {
        let net: i64 = expected
            .iter()
            .map(|(_, from, to, amount)| {
                (if *to == account { *amount } else { 0 })
                    - (if *from == account { *amount } else { 0 })
            })
            .sum();
        assert_eq!(balance, INITIAL + net, "account {account}");
    }
    eprintln!(
        "mariadb: {} transfers took {attempts} attempts",
        expected.len()
    );
    assert!(
        attempts > expected.len(),
        "no deadlock happened: the test proved nothing"
    );
    drop(conn);
    pool.close().await;
    db.cleanup().await;
}

/// The backend is killed between the body and `COMMIT`: the commit's outcome is unknown.
/// Not retried by default; retried when the policy is declared idempotent.
#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test]
async fn pg_commit_with_unknown_outcome_is_retried_only_when_idempotent() {
    let Some(db) = db::postgres("pg_commit_unknown").await else {
        return;
    };
    let pool = Config::from_url(&db.url)
        .unwrap()
        .build_pool::<Postgres>("commit")
        .unwrap();
    {
        let mut conn = pool.get().await.unwrap();
        conn.execute("CREATE TABLE events (id bigint PRIMARY KEY)")
            .await
            .unwrap();
    }
    for idempotent in [false, true] {
        let policy = Resilience::builder("commit")
            .retries(3)
            .base(Duration::from_millis(1))
            .idempotent(idempotent)
            .build();
        let attempts = Arc::new(AtomicUsize::new(0));
        let admin = pool.clone();
        let event = i64::from(idempotent);
        let result = transaction(&pool, &policy, |conn| {
            let attempts = Arc::clone(&attempts);
            let admin = admin.clone();
            Box::pin(async move {
                let attempt = attempts.fetch_add(1, Ordering::Relaxed);
                sqlx::query("INSERT INTO events VALUES ($1)")
                    .bind(event)
                    .execute(&mut *conn)
                    .await?;
                if attempt == 0 {
                    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
                        .fetch_one(&mut *conn)
                        .await?;
                    let mut other = admin.get().await?;
                    sqlx::query("SELECT pg_terminate_backend($1, 5000)")
                        .bind(pid)
                        .execute(&mut **other)
                        .await?;
                }
                Ok::<_, Error>(())
            })
        })
        .await;
        let attempts = attempts.load(Ordering::Relaxed);
        if idempotent {
            result.unwrap();
            assert_eq!(attempts, 2);
        } else {
            let error = result.unwrap_err();
            assert!(matches!(error, Error::CommitOutcomeUnknown(_)), "{error:?}");
            assert_eq!(error.delivery(), Delivery::Unknown);
            assert_eq!(error.class(), ErrorClass::Connection);
            assert_eq!(attempts, 1, "an ambiguous commit was retried");
        }
        let mut conn = pool.get().await.unwrap();
        let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE id = $1")
            .bind(event)
            .fetch_one(&mut **conn)
            .await
            .unwrap();
        // The first attempt's COMMIT never reached the dead backend.
        assert_eq!(rows, i64::from(idempotent));
    }
    pool.close().await;
    db.cleanup().await;
}

#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test]
async fn pg_permanent_errors_roll_back_once_and_dropped_transactions_discard() {
    let Some(db) = db::postgres("pg_tx_permanent").await else {
        return;
    };
    let pool = Config::from_url(&db.url)
        .unwrap()
        .pool_builder::<Postgres>("tx")
        .unwrap()
        .max_size(1)
        .build()
        .unwrap();
    {
        let mut conn = pool.get().await.unwrap();
        conn.execute("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)")
            .await
            .unwrap();
    }
    let policy = policy();
    let attempts = Arc::new(AtomicUsize::new(0));
    let result: Result<(), Error> = transaction(&pool, &policy, |conn| {
        let attempts = Arc::clone(&attempts);
        Box::pin(async move {
            attempts.fetch_add(1, Ordering::Relaxed);
            conn.execute("INSERT INTO t VALUES (2)").await?;
            conn.execute("INSERT INTO t VALUES (1)").await?; // duplicate key
            Ok(())
        })
    })
    .await;
    assert_eq!(result.unwrap_err().class(), ErrorClass::Permanent);
    assert_eq!(attempts.load(Ordering::Relaxed), 1);
    let count: i64 = {
        let mut conn = pool.get().await.unwrap();
        sqlx::query_scalar("SELECT count(*) FROM t")
            .fetch_one(&mut **conn)
            .await
            .unwrap()
    };
    assert_eq!(count, 1, "the failed transaction was rolled back");
    assert_eq!(
        pool.metrics().closed_broken,
        0,
        "a rolled-back connection is kept"
    );

    // A transaction future dropped mid-flight: its connection is discarded.
    let slow = transaction(&pool, &policy, |conn| {
        Box::pin(async move {
            conn.execute("INSERT INTO t VALUES (3)").await?;
            conn.execute("SELECT pg_sleep(10)").await?;
            Ok::<_, Error>(())
        })
    });
    assert!(
        tokio::time::timeout(Duration::from_millis(100), slow)
            .await
            .is_err()
    );
    assert_eq!(pool.metrics().closed_broken, 1);
    let mut conn = pool.get().await.unwrap();
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM t")
        .fetch_one(&mut **conn)
        .await
        .unwrap();
    assert_eq!(count, 1);
    drop(conn);
    pool.close().await;
    db.cleanup().await;
}

/// SQLite with `busy_timeout(0)`: concurrent writers get `SQLITE_BUSY` at once, and the
/// whole transaction is re-run until every increment lands.
#[tokio::test]
async fn sqlite_busy_writers_are_retried() {
    let (_dir, url) = db::sqlite("tx_busy");
    let manager = SqlxManager::<pool_sqlx::sqlx::Sqlite>::from_url(&url)
        .unwrap()
        .busy_timeout(Duration::ZERO);
    let pool = Pool::builder(manager).max_size(4).build().unwrap();
    pool.get()
        .await
        .unwrap()
        .execute("CREATE TABLE counter (n INTEGER NOT NULL); INSERT INTO counter VALUES (0)")
        .await
        .unwrap();
    let policy = Arc::new(policy());
    let attempts = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (pool, policy, attempts) =
                (pool.clone(), Arc::clone(&policy), Arc::clone(&attempts));
            tokio::spawn(async move {
                transaction(&pool, &policy, |conn| {
                    let attempts = Arc::clone(&attempts);
                    Box::pin(async move {
                        attempts.fetch_add(1, Ordering::Relaxed);
                        let n: i64 = sqlx::query_scalar("SELECT n FROM counter")
                            .fetch_one(&mut *conn)
                            .await?;
                        tokio::task::yield_now().await;
                        sqlx::query("UPDATE counter SET n = ?")
                            .bind(n + 1)
                            .execute(&mut *conn)
                            .await?;
                        Ok::<_, Error>(())
                    })
                })
                .await
            })
        })
        .collect();
    for handle in handles {
        handle.await.unwrap().unwrap();
    }
    let n: i64 = sqlx::query_scalar("SELECT n FROM counter")
        .fetch_one(&mut **pool.get().await.unwrap())
        .await
        .unwrap();
    assert_eq!(n, 8, "every increment applied exactly once");
    eprintln!(
        "sqlite: 8 increments took {} attempts",
        attempts.load(Ordering::Relaxed)
    );
}

/// The backend is killed in the middle of the body, before `COMMIT`: nothing was applied,
/// so the transaction is re-run even by a policy that is not idempotent.
#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test]
async fn pg_connection_lost_before_commit_is_retried_without_idempotent() {
    let Some(db) = db::postgres("pg_lost_before_commit").await else {
        return;
    };
    let pool = Config::from_url(&db.url)
        .unwrap()
        .build_pool::<Postgres>("lost")
        .unwrap();
    pool.get()
        .await
        .unwrap()
        .execute("CREATE TABLE events (id bigint PRIMARY KEY)")
        .await
        .unwrap();
    let policy = Resilience::builder("lost")
        .retries(3)
        .base(Duration::from_millis(1))
        .build();
    let attempts = Arc::new(AtomicUsize::new(0));
    let admin = pool.clone();
    transaction(&pool, &policy, |conn| {
        let attempts = Arc::clone(&attempts);
        let admin = admin.clone();
        Box::pin(async move {
            let attempt = attempts.fetch_add(1, Ordering::Relaxed);
            sqlx::query("INSERT INTO events VALUES (7)")
                .execute(&mut *conn)
                .await?;
            if attempt == 0 {
                let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
                    .fetch_one(&mut *conn)
                    .await?;
                let mut other = admin.get().await?;
                sqlx::query("SELECT pg_terminate_backend($1, 5000)")
                    .bind(pid)
                    .execute(&mut **other)
                    .await?;
                // The next statement finds the connection dead.
                sqlx::query("SELECT 1").execute(&mut *conn).await?;
            }
            Ok::<_, Error>(())
        })
    })
    .await
    .unwrap();
    assert_eq!(attempts.load(Ordering::Relaxed), 2);
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&mut **pool.get().await.unwrap())
        .await
        .unwrap();
    assert_eq!(rows, 1);
    assert_eq!(
        pool.metrics().closed_broken,
        1,
        "the dead connection was discarded"
    );
    pool.close().await;
    db.cleanup().await;
}
