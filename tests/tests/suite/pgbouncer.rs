//! A real PgBouncer (transaction mode, a server pool of 5, started by the test) in front of
//! a per-test PostgreSQL database, with pool-sqlx's `pgbouncer=true`:
//!
//! - 8 independent pools × 10 connections (standing in for 8 instances) drive concurrent
//!   transactions with bound parameters and parameterless statements; everything succeeds
//!   and a direct connection sampling `pg_stat_activity` every 20 ms never sees more than
//!   5 backends for the database;
//! - SERIALIZABLE transfers retried by `pool_sqlx::transaction` keep their invariant;
//! - the statement timeout is applied per transaction (`SET LOCAL`) and never leaks onto
//!   server connections other clients get, where a session `SET` does;
//! - the hazards are real: without `pgbouncer=true` sqlx cannot even log in
//!   (`extra_float_digits`), and on a bouncer that ignores that parameter its statement
//!   cache collides (42P05); sqlx's default (named, persistent) statements collide with
//!   `statement_cache_capacity(0)` alone (42P05); unnamed statements outside a transaction
//!   break (26000);
//! - validation costs no round trip per checkout; `check_capacity` reads the server's
//!   `max_connections` directly and through the bouncer.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use pool_sqlx::{
    Classify, Config, Error, ErrorClass, Jitter, Manager, PgPool, Pool, Resilience, SqlxConnection,
    SqlxError, SqlxManager, TransactionManager, Validation, bouncer, check_capacity, pooled,
    sqlx::{self, Connection, Executor, PgConnection, Postgres, Row},
    transaction,
};
use tests::{db, pgbouncer::PgBouncer};

const INSTANCES: usize = 8;
const PER_INSTANCE: usize = 10;
const SERVER_POOL: usize = 5;

/// The SQLSTATE behind an error, if the server sent one.
fn sqlstate(error: &Error) -> Option<String> {
    match error.as_sqlx() {
        Some(sqlx::Error::Database(db)) => db.code().map(|code| code.into_owned()),
        _ => None,
    }
}

fn sqlx_state(error: &sqlx::Error) -> Option<String> {
    match error {
        sqlx::Error::Database(db) => db.code().map(|code| code.into_owned()),
        _ => None,
    }
}

fn policy(name: &'static str) -> Resilience {
    Resilience::builder(name)
        .retries(100)
        .base(Duration::from_millis(1))
        .max_delay(Duration::from_millis(20))
        .jitter(Jitter::Full)
        .build()
}

/// Samples, on a direct connection, how many backends serve `database` (other than the
/// sampler), every 20 ms until stopped. Returns (max, samples).
fn sample_backends(
    admin_url: String,
    database: String,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<(i64, usize)> {
    tokio::spawn(async move {
        let mut conn = PgConnection::connect(&admin_url).await.unwrap();
        let (mut max, mut samples) = (0_i64, 0_usize);
        loop {
            let n: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE datname = $1 AND pid <> pg_backend_pid()",
            )
            .bind(&database)
            .fetch_one(&mut conn)
            .await
            .unwrap();
            max = max.max(n);
            samples += 1;
            if stop.load(Ordering::Relaxed) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        conn.close().await.ok();
        (max, samples)
    })
}

async fn direct_setup(url: &str, sql: &'static str) {
    let mut conn = PgConnection::connect(url).await.unwrap();
    sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
    conn.close().await.ok();
}

#[pooled(transaction)]
async fn bump(conn: &mut PgConnection, counter: i32) -> Result<(), Error> {
    bouncer::query("UPDATE counters SET n = n + 1 WHERE id = $1")
        .bind(counter)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_instances_share_five_server_connections() {
    let Some(db) = db::postgres("bouncer_instances").await else {
        return;
    };
    let Some(bouncer) = PgBouncer::start(&db, SERVER_POOL).await else {
        db.cleanup().await;
        return;
    };
    direct_setup(
        &db.url,
        "CREATE TABLE items (pool int, task int, round int, payload text, PRIMARY KEY (pool, task, round));
         CREATE TABLE counters (id int PRIMARY KEY, n bigint NOT NULL);
         INSERT INTO counters SELECT g, 0 FROM generate_series(0, 3) g;",
    )
    .await;

    let stop = Arc::new(AtomicBool::new(false));
    let sampler = sample_backends(
        db.admin_url().to_owned(),
        db.name.clone(),
        Arc::clone(&stop),
    );
    const ROUNDS: usize = 6;
    let policy = Arc::new(policy("instances"));
    let started = Instant::now();
    let pools: Vec<PgPool> = (0..INSTANCES)
        .map(|i| {
            Config::from_url(
                &bouncer.url_with(&format!("pgbouncer=true&connection_limit={PER_INSTANCE}")),
            )
            .unwrap()
            .build_pool::<Postgres>(&format!("instance{i}"))
            .unwrap()
        })
        .collect();
    let mut tasks = Vec::new();
    for (p, pool) in pools.iter().enumerate() {
        for task in 0..PER_INSTANCE {
            let pool = pool.clone();
            let policy = Arc::clone(&policy);
            tasks.push(tokio::spawn(async move {
                let mut errors: Vec<Error> = Vec::new();
                for round in 0..ROUNDS {
                    // A transaction with bound parameters, each statement run many times
                    // over (by every task, every round).
                    let inserted = transaction(&pool, &policy, |conn| {
                        Box::pin(async move {
                            bouncer::query("INSERT INTO items VALUES ($1, $2, $3, $4)")
                                .bind(p as i32)
                                .bind(task as i32)
                                .bind(round as i32)
                                .bind(format!("payload {p}/{task}/{round}"))
                                .execute(&mut *conn)
                                .await?;
                            let mine: i64 = bouncer::query_scalar(
                                "SELECT count(*) FROM items WHERE pool = $1 AND task = $2",
                            )
                            .bind(p as i32)
                            .bind(task as i32)
                            .fetch_one(&mut *conn)
                            .await?;
                            bouncer::query("UPDATE counters SET n = n + 1 WHERE id = $1")
                                .bind(((p + task) % 4) as i32)
                                .execute(&mut *conn)
                                .await?;
                            Ok::<_, Error>(mine)
                        })
                    })
                    .await;
                    match inserted {
                        Ok(mine) => assert_eq!(mine, round as i64 + 1),
                        Err(error) => errors.push(error),
                    }
                    // The same through `#[pooled(transaction)]` (SqlxManager's begin).
                    if let Err(error) = bump(&pool, ((p * task + round) % 4) as i32).await {
                        errors.push(error);
                    }
                    // A parameterless statement outside any transaction (simple protocol).
                    match pool.get().await {
                        Ok(mut conn) => {
                            if let Err(error) = conn.execute("SELECT 1").await {
                                errors.push(error.into());
                            }
                        }
                        Err(error) => errors.push(error.into()),
                    }
                }
                errors
            }));
        }
    }
    let mut errors = Vec::new();
    for task in tasks {
        errors.extend(task.await.unwrap());
    }
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let (max_backends, samples) = sampler.await.unwrap();
    let codes: Vec<Option<String>> = errors.iter().map(sqlstate).collect();
    assert!(
        !codes
            .iter()
            .flatten()
            .any(|code| code == "42P05" || code == "26000"),
        "prepared-statement errors through the bouncer: {errors:?}"
    );
    assert!(errors.is_empty(), "{} failures: {errors:?}", errors.len());

    let mut conn = PgConnection::connect(&db.url).await.unwrap();
    let (items, bumps): (i64, i64) =
        sqlx::query_as("SELECT (SELECT count(*) FROM items), (SELECT sum(n) FROM counters)::int8")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    conn.close().await.ok();
    let work = (INSTANCES * PER_INSTANCE * ROUNDS) as i64;
    assert_eq!(items, work);
    assert_eq!(bumps, 2 * work);
    eprintln!(
        "{INSTANCES} pools x {PER_INSTANCE} connections, {} transactions and {work} \
         simple statements in {elapsed:?}; server backends for the database: max \
         {max_backends} over {samples} samples (bouncer pool {SERVER_POOL})",
        2 * work
    );
    assert!(samples >= 5, "only {samples} samples of pg_stat_activity");
    assert!(
        max_backends > 0,
        "the sampler never saw the bouncer's backends"
    );
    assert!(
        max_backends <= SERVER_POOL as i64,
        "the server saw {max_backends} backends, more than the bouncer's pool of {SERVER_POOL}"
    );
    for pool in &pools {
        pool.close().await;
    }
    drop(bouncer);
    db.cleanup().await;
}

#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serializable_transfers_retry_through_the_bouncer() {
    const ACCOUNTS: i64 = 4;
    const INITIAL: i64 = 1_000;
    const TRANSFERS: i64 = 48;
    let Some(db) = db::postgres("bouncer_transfers").await else {
        return;
    };
    let Some(bouncer) = PgBouncer::start(&db, SERVER_POOL).await else {
        db.cleanup().await;
        return;
    };
    direct_setup(
        &db.url,
        "CREATE TABLE accounts (id bigint PRIMARY KEY, balance bigint NOT NULL);
         CREATE TABLE transfers (id bigint PRIMARY KEY, src bigint, dst bigint, amount bigint);
         INSERT INTO accounts SELECT g, 1000 FROM generate_series(0, 3) g;",
    )
    .await;
    // Three instances, six connections each, all through the same server pool of 5.
    let pools: Vec<PgPool> = (0..3)
        .map(|i| {
            Config::from_url(&bouncer.url_with("pgbouncer=true&connection_limit=6"))
                .unwrap()
                .build_pool::<Postgres>(&format!("bank{i}"))
                .unwrap()
        })
        .collect();
    let policy = Arc::new(policy("transfer"));
    let attempts = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..TRANSFERS)
        .map(|id| {
            let pool = pools[id as usize % pools.len()].clone();
            let (policy, attempts) = (Arc::clone(&policy), Arc::clone(&attempts));
            let from = id % ACCOUNTS;
            let to = (from + 1 + id % (ACCOUNTS - 1)) % ACCOUNTS;
            let amount = 1 + id % 37;
            tokio::spawn(async move {
                transaction(&pool, &policy, |conn| {
                    let attempts = Arc::clone(&attempts);
                    Box::pin(async move {
                        attempts.fetch_add(1, Ordering::Relaxed);
                        conn.execute("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")
                            .await?;
                        let balance: i64 =
                            bouncer::query_scalar("SELECT balance FROM accounts WHERE id = $1")
                                .bind(from)
                                .fetch_one(&mut *conn)
                                .await?;
                        bouncer::query("UPDATE accounts SET balance = $1 WHERE id = $2")
                            .bind(balance - amount)
                            .bind(from)
                            .execute(&mut *conn)
                            .await?;
                        bouncer::query("UPDATE accounts SET balance = balance + $1 WHERE id = $2")
                            .bind(amount)
                            .bind(to)
                            .execute(&mut *conn)
                            .await?;
                        bouncer::query("INSERT INTO transfers VALUES ($1, $2, $3, $4)")
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
        .collect();
    for handle in handles {
        if let Err(error) = handle.await.unwrap() {
            panic!(
                "a transfer failed ({:?}, SQLSTATE {:?}): {error}",
                error.class(),
                sqlstate(&error)
            );
        }
    }
    let mut conn = PgConnection::connect(&db.url).await.unwrap();
    let (total, applied): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT sum(balance) FROM accounts)::int8, (SELECT count(*) FROM transfers)",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    conn.close().await.ok();
    assert_eq!(total, ACCOUNTS * INITIAL, "money was created or destroyed");
    assert_eq!(applied, TRANSFERS, "every transfer applied exactly once");
    let attempts = attempts.load(Ordering::Relaxed);
    eprintln!("through PgBouncer: {TRANSFERS} transfers took {attempts} attempts");
    assert!(
        attempts > TRANSFERS as usize,
        "no serialization conflict happened: the test proved nothing"
    );
    for pool in &pools {
        pool.close().await;
    }
    drop(bouncer);
    db.cleanup().await;
}

async fn show_statement_timeout(conn: &mut PgConnection) -> String {
    sqlx::raw_sql("SHOW statement_timeout")
        .fetch_one(&mut *conn)
        .await
        .unwrap()
        .get::<String, _>(0)
}

#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test]
async fn statement_timeout_is_per_transaction_and_never_leaks() {
    let Some(db) = db::postgres("bouncer_timeout").await else {
        return;
    };
    // One server connection: whatever one client leaves on it, the next one sees.
    let Some(bouncer) = PgBouncer::start(&db, 1).await else {
        db.cleanup().await;
        return;
    };

    // The hazard: a session SET through the bouncer stays for the next client.
    let mut first = bouncer.connect().await.unwrap();
    first.execute("SET statement_timeout = 1234").await.unwrap();
    let mut second = bouncer.connect().await.unwrap();
    assert_eq!(show_statement_timeout(&mut second).await, "1234ms");
    second.execute("RESET statement_timeout").await.unwrap();
    first.close().await.ok();
    second.close().await.ok();

    let limited = Config::from_url(&bouncer.url_with("pgbouncer=true&statement_timeout=300ms"))
        .unwrap()
        .build_pool::<Postgres>("limited")
        .unwrap();
    let policy = Resilience::builder("once").build();
    // Inside pool-sqlx's transactions the limit holds…
    let timed_out = transaction(&limited, &policy, |conn| {
        Box::pin(async move {
            conn.execute("SELECT pg_sleep(2)").await?;
            Ok::<_, Error>(())
        })
    })
    .await
    .unwrap_err();
    assert_eq!(
        sqlstate(&timed_out).as_deref(),
        Some("57014"),
        "{timed_out}"
    );
    assert_eq!(timed_out.class(), ErrorClass::Timeout);
    let shown = transaction(&limited, &policy, |conn| {
        Box::pin(async move {
            conn.execute("SELECT pg_sleep(0.01)").await?;
            Ok::<_, Error>(show_statement_timeout(conn).await)
        })
    })
    .await
    .unwrap();
    assert_eq!(shown, "300ms");
    // …and in `#[pooled(transaction)]`'s (SqlxManager::begin).
    {
        let mut conn = limited.get().await.unwrap();
        limited.manager().begin(&mut conn).await.unwrap();
        assert_eq!(show_statement_timeout(&mut conn).await, "300ms");
        limited.manager().rollback(&mut conn).await.unwrap();
        // Outside a transaction it is not set (documented): nothing per session.
        assert_eq!(show_statement_timeout(&mut conn).await, "0");
    }
    // Another client on the same (only) server connection finds nothing left behind.
    let other = Config::from_url(&bouncer.url_with("pgbouncer=true"))
        .unwrap()
        .build_pool::<Postgres>("other")
        .unwrap();
    {
        let mut conn = other.get().await.unwrap();
        assert_eq!(show_statement_timeout(&mut conn).await, "0");
    }
    limited.close().await;
    other.close().await;
    drop(bouncer);
    db.cleanup().await;
}

#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test]
async fn the_hazards_without_the_safe_path_are_real() {
    let Some(db) = db::postgres("bouncer_hazards").await else {
        return;
    };
    let Some(bouncer) = PgBouncer::start(&db, 1).await else {
        db.cleanup().await;
        return;
    };

    // Without pgbouncer=true, sqlx sends `extra_float_digits`, which PgBouncer 1.18 refuses.
    let refused = match PgConnection::connect(&bouncer.url()).await {
        Ok(_) => panic!("PgBouncer accepted extra_float_digits"),
        Err(error) => error,
    };
    assert!(
        refused.to_string().contains("extra_float_digits"),
        "{refused}"
    );

    // statement_cache_capacity(0) alone (pgbouncer=true, sqlx's default persistent
    // queries): each client names its statements sqlx_s_1, sqlx_s_2, … and leaves them on
    // the one server connection: the second client's sqlx_s_1 already exists.
    let pool = Config::from_url(&bouncer.url_with("pgbouncer=true&connection_limit=2"))
        .unwrap()
        .build_pool::<Postgres>("hazard")
        .unwrap();
    let mut a = pool.get().await.unwrap();
    let mut b = pool.get().await.unwrap();
    let one: i32 = sqlx::query_scalar("SELECT $1::int4")
        .bind(1)
        .fetch_one(&mut **a)
        .await
        .unwrap();
    assert_eq!(one, 1);
    let collided = sqlx::query_scalar::<_, i32>("SELECT $1::int4")
        .bind(2)
        .fetch_one(&mut **b)
        .await
        .unwrap_err();
    assert_eq!(
        sqlx_state(&collided).as_deref(),
        Some("42P05"),
        "{collided}"
    );
    // The same through the safe path works on both clients.
    for conn in [&mut a, &mut b] {
        conn.execute("DEALLOCATE ALL").await.unwrap();
        let mut tx = conn.begin().await.unwrap();
        let n: i32 = bouncer::query_scalar("SELECT $1::int4")
            .bind(7)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert_eq!(n, 7);
        tx.commit().await.unwrap();
    }
    drop((a, b));

    // Without pgbouncer=true on a bouncer told to ignore extra_float_digits (the usual
    // workaround), sqlx's statement cache collides the same way.
    let Some(lenient) = PgBouncer::start_with(
        &db,
        1,
        &[("ignore_startup_parameters", "extra_float_digits")],
    )
    .await
    else {
        unreachable!("the first bouncer started");
    };
    let plain = Config::from_url(&lenient.url_with("connection_limit=2"))
        .unwrap()
        .build_pool::<Postgres>("plain")
        .unwrap();
    let mut a = plain.get().await.unwrap();
    let mut b = plain.get().await.unwrap();
    sqlx::query("SELECT $1::int4")
        .bind(1)
        .execute(&mut **a)
        .await
        .unwrap();
    let cached = sqlx::query("SELECT $1::int4")
        .bind(2)
        .execute(&mut **b)
        .await
        .unwrap_err();
    assert_eq!(sqlx_state(&cached).as_deref(), Some("42P05"), "{cached}");
    drop((a, b));
    plain.close().await;
    drop(lenient);

    // Unnamed statements outside a transaction: sqlx parses in one round trip and binds in
    // the next; meanwhile another client's simple query on the same server connection
    // destroys the unnamed statement. A race, but one lost within a few iterations here.
    let stop = Arc::new(AtomicBool::new(false));
    let noise = {
        let (pool, stop) = (pool.clone(), Arc::clone(&stop));
        tokio::spawn(async move {
            let mut conn = pool.get().await.unwrap();
            while !stop.load(Ordering::Relaxed) {
                conn.execute("SELECT 1").await.unwrap();
            }
        })
    };
    let mut conn = pool.get().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut broken = None;
    let mut runs = 0;
    while Instant::now() < deadline {
        runs += 1;
        if let Err(error) = bouncer::query_scalar::<i32>("SELECT $1::int4")
            .bind(3)
            .fetch_one(&mut **conn)
            .await
        {
            broken = Some(error);
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    noise.await.unwrap();
    let broken = broken.expect("unnamed statements outside a transaction never broke");
    eprintln!("unnamed statement outside a transaction broke after {runs} runs: {broken}");
    assert_eq!(sqlx_state(&broken).as_deref(), Some("26000"), "{broken}");
    drop(conn);
    pool.close().await;
    drop(bouncer);
    db.cleanup().await;
}

/// The `SqlxManager`, counting how often the pool validates a connection.
struct Counting {
    inner: SqlxManager<Postgres>,
    checks: AtomicUsize,
}

impl Manager for Counting {
    type Connection = SqlxConnection<Postgres>;
    type Error = SqlxError;

    async fn connect(&self) -> Result<Self::Connection, SqlxError> {
        self.inner.connect().await
    }

    async fn check(&self, conn: &mut Self::Connection) -> Result<(), SqlxError> {
        self.checks.fetch_add(1, Ordering::Relaxed);
        self.inner.check(conn).await
    }

    fn has_broken(&self, conn: &mut Self::Connection) -> bool {
        self.inner.has_broken(conn)
    }
}

#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test]
async fn validation_costs_no_round_trip_per_checkout() {
    let Some(db) = db::postgres("bouncer_validation").await else {
        return;
    };
    let Some(bouncer) = PgBouncer::start(&db, SERVER_POOL).await else {
        db.cleanup().await;
        return;
    };
    let config = Config::from_url(&bouncer.url_with("pgbouncer=true")).unwrap();
    let validation = config.settings().validation;
    assert_eq!(
        validation,
        Validation::IdleLongerThan(Duration::from_millis(500))
    );
    const CHECKOUTS: usize = 200;
    let mut counted = Vec::new();
    for validation in [validation, Validation::Always] {
        let pool = Pool::builder(Counting {
            inner: config.manager::<Postgres>().unwrap(),
            checks: AtomicUsize::new(0),
        })
        .max_size(2)
        .validation(validation)
        .build()
        .unwrap();
        for _ in 0..CHECKOUTS {
            let mut conn = pool.get().await.unwrap();
            conn.execute("SELECT 1").await.unwrap();
        }
        counted.push(pool.manager().checks.load(Ordering::Relaxed));
        pool.close().await;
    }
    eprintln!(
        "{CHECKOUTS} checkouts through the bouncer: {} checks with the default validation, \
         {} with Validation::Always",
        counted[0], counted[1]
    );
    assert!(
        counted[0] <= 2,
        "{} checks for {CHECKOUTS} back-to-back checkouts",
        counted[0]
    );
    assert!(counted[1] >= CHECKOUTS - 2, "{}", counted[1]);
    drop(bouncer);
    db.cleanup().await;
}

#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test]
async fn check_capacity_reads_the_server_limit_directly_and_through_the_bouncer() {
    let Some(db) = db::postgres("bouncer_capacity").await else {
        return;
    };
    let Some(bouncer) = PgBouncer::start(&db, SERVER_POOL).await else {
        db.cleanup().await;
        return;
    };
    let mut admin = PgConnection::connect(&db.url).await.unwrap();
    let max: i64 = sqlx::query_scalar("SELECT current_setting('max_connections')::int8")
        .fetch_one(&mut admin)
        .await
        .unwrap();
    admin.close().await.ok();
    let max = max as u64;
    let direct = Config::from_url(&db.url_with("connection_limit=10"))
        .unwrap()
        .build_pool::<Postgres>("direct")
        .unwrap();

    // Fits: max_size × instances + reserved ≤ max_connections.
    let instances = (max as usize - 5) / 10;
    let fits = check_capacity(&direct, instances, 5).await.unwrap();
    assert_eq!(fits.max_connections, max);
    assert!(fits.fits, "{fits:?}");
    assert!(fits.warnings.is_empty(), "{:?}", fits.warnings);
    assert_eq!(fits.advised_max_size, Some((max as usize - 5) / instances));

    // Twice as many instances: warned, with what would fit.
    let over = check_capacity(&direct, 2 * instances + 1, 5).await.unwrap();
    assert!(!over.fits);
    assert_eq!(over.planned, 10 * (2 * instances as u64 + 1) + 5);
    assert_eq!(over.warnings.len(), 1, "{:?}", over.warnings);
    assert!(over.warnings[0].contains("max_connections"));
    let advised = over.advised_max_size.unwrap();
    assert!(advised < 10 && advised * (2 * instances + 1) + 5 <= max as usize);

    // min_idle × instances above what the server can give is warned about too.
    let idle = Config::from_url(&db.url_with("connection_limit=4"))
        .unwrap()
        .pool_builder::<Postgres>("idle")
        .unwrap()
        .min_idle(4)
        .build()
        .unwrap();
    let idle_report = check_capacity(&idle, max as usize / 2, 0).await.unwrap();
    assert!(
        idle_report.warnings.iter().any(|w| w.contains("min_idle")),
        "{:?}",
        idle_report.warnings
    );

    // Through the bouncer: the same server limit, and many more clients than it is fine.
    let through = Config::from_url(&bouncer.url_with("pgbouncer=true&connection_limit=10"))
        .unwrap()
        .build_pool::<Postgres>("through")
        .unwrap();
    let report = check_capacity(&through, 2 * instances + 1, 5)
        .await
        .unwrap();
    assert_eq!(report.max_connections, max);
    assert!(report.pgbouncer && !report.fits);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    // The health report's server view goes through the bouncer too (simple protocol).
    let health = pool_sqlx::health(&through, Duration::from_secs(5)).await;
    assert!(health.check.ok, "{health:?}");
    let server = health.server.expect("the server view through the bouncer");
    assert_eq!(server.max_connections, max);

    let zero = check_capacity(&direct, 0, 0).await.unwrap_err();
    assert!(
        matches!(&zero, Error::Config(e) if e.setting == "instances"),
        "{zero}"
    );
    let (_dir, sqlite_url) = db::sqlite("capacity");
    let sqlite = Config::from_url(&sqlite_url)
        .unwrap()
        .build_pool::<sqlx::Sqlite>("sqlite")
        .unwrap();
    let no_server = check_capacity(&sqlite, 1, 0).await.unwrap_err();
    assert!(
        matches!(&no_server, Error::Config(e) if e.setting == "backend"),
        "{no_server}"
    );

    for pool in [&direct, &idle, &through] {
        pool.close().await;
    }
    sqlite.close().await;
    drop(bouncer);
    db.cleanup().await;
}

#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test]
async fn the_test_bouncer_is_killed_on_drop() {
    let Some(db) = db::postgres("bouncer_harness").await else {
        return;
    };
    let Some(mut bouncer) = PgBouncer::start(&db, 2).await else {
        db.cleanup().await;
        return;
    };
    assert!(bouncer.is_running());
    let mut admin = bouncer.connect_admin().await.unwrap();
    let pools = sqlx::raw_sql("SHOW CONFIG").fetch_all(&mut admin).await;
    assert!(pools.is_ok(), "{pools:?}");
    let mode = pools
        .unwrap()
        .iter()
        .find(|row| row.get::<String, _>(0) == "pool_mode")
        .map(|row| row.get::<String, _>(1));
    assert_eq!(mode.as_deref(), Some("transaction"));
    admin.close().await.ok();
    let port = bouncer.port();
    drop(bouncer);
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "something still listens on the bouncer's port {port}"
    );
    db.cleanup().await;
}
