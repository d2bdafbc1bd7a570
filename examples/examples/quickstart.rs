//! Quickstart: a small repository of `#[resilient]` + `#[pooled]` functions, a declared
//! circuit breaker, real queries, then a real fault, and what the library did about it.
//!
//! ```sh
//! cargo run --example quickstart                       # embedded SQLite, a temp file
//! DATABASE_URL=postgres://postgres@127.0.0.1/test cargo run --example quickstart
//! DATABASE_URL=mysql://root@127.0.0.1/test cargo run --example quickstart
//! ```
//!
//! On SQLite the fault is a second writer holding the database lock; on a server it is
//! the backend of a pooled connection killed from outside (`pg_terminate_backend`, `KILL`).
//!
//! `POOL_PRESET` (production, development, test, serverless) picks the pool's starting
//! settings, as it does wherever `DATABASE_URL` is read. The pool opens its connection
//! before the demo starts: a database that cannot be reached ends the program at once
//! with one line on stderr (`error: …`) and exit status 1.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use pool_sqlx::{
    BackendKind, BreakerConfig, BreakerState, Config, Error, Pool, Preset, SlidingWindow,
    SqlxManager, breakers, health,
    sqlx::{self, Connection, MySql, Postgres, Sqlite},
};

/// Attempts made by the repository functions (retries included), to show what retries did.
static ATTEMPTS: AtomicU64 = AtomicU64::new(0);

/// The repository, written once per backend: same functions, that backend's connection
/// type and placeholder syntax.
macro_rules! repository {
    ($module:ident, $connection:ty, $first:literal, $backend_id:literal) => {
        // Each backend's run uses the functions it needs.
        #[allow(dead_code)]
        mod $module {
            use super::*;
            use pool_sqlx::{pooled, resilient};

            /// Creates the table (idempotent: `IF NOT EXISTS`).
            #[pooled]
            pub(crate) async fn create_schema(conn: &mut $connection) -> Result<(), Error> {
                sqlx::query(
                    "CREATE TABLE IF NOT EXISTS quickstart_visits \
                     (name VARCHAR(64) PRIMARY KEY, visits INTEGER NOT NULL)",
                )
                .execute(&mut *conn)
                .await?;
                sqlx::query("DELETE FROM quickstart_visits")
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            }

            /// Adds a user: retried on transient errors, through the "db" breaker.
            ///
            /// Equal jitter (each delay at least half its step, where full jitter may be
            /// near zero): the retries of part 2 then always outlast its 100 ms lock, so
            /// they cannot fail often enough to open the breaker before part 3 means to.
            #[resilient(
                retries = 6,
                base = "25ms",
                max_delay = "200ms",
                jitter = "equal",
                breaker = "db"
            )]
            #[pooled]
            pub(crate) async fn add_user(
                conn: &mut $connection,
                name: String,
            ) -> Result<(), Error> {
                ATTEMPTS.fetch_add(1, Ordering::Relaxed);
                sqlx::query(concat!(
                    "INSERT INTO quickstart_visits (name, visits) VALUES (",
                    $first,
                    ", 0)"
                ))
                .bind(name)
                .execute(&mut *conn)
                .await?;
                Ok(())
            }

            /// Counts a visit and returns the new count. A single-statement increment with
            /// a read after it: safe to re-run only because the demo says so (`idempotent`
            /// would be wrong for a real counter; see the README on retried writes).
            #[resilient(
                retries = 6,
                base = "25ms",
                max_delay = "200ms",
                jitter = "equal",
                breaker = "db",
                idempotent
            )]
            #[pooled]
            pub(crate) async fn visit(conn: &mut $connection, name: String) -> Result<i64, Error> {
                ATTEMPTS.fetch_add(1, Ordering::Relaxed);
                sqlx::query(concat!(
                    "UPDATE quickstart_visits SET visits = visits + 1 WHERE name = ",
                    $first
                ))
                .bind(&name)
                .execute(&mut *conn)
                .await?;
                let visits: i32 = sqlx::query_scalar(concat!(
                    "SELECT visits FROM quickstart_visits WHERE name = ",
                    $first
                ))
                .bind(&name)
                .fetch_one(&mut *conn)
                .await?;
                Ok(i64::from(visits))
            }

            /// The server-side id of the connection this call ran on.
            #[pooled]
            pub(crate) async fn backend_id(conn: &mut $connection) -> Result<i64, Error> {
                let id: i64 = sqlx::query_scalar($backend_id)
                    .fetch_one(&mut *conn)
                    .await?;
                Ok(id)
            }
        }
    };
}

repository!(sqlite, sqlx::SqliteConnection, "$1", "SELECT 0");
repository!(
    postgres,
    sqlx::PgConnection,
    "$1",
    "SELECT pg_backend_pid()::bigint"
);
repository!(
    mysql,
    sqlx::MySqlConnection,
    "?",
    "SELECT CAST(CONNECTION_ID() AS SIGNED)"
);

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            // Display, not Debug: the message (with its causes) is what a user needs.
            eprintln!("error: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,pool_core=warn".into()),
        )
        .with_target(false)
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .compact()
        .init();

    // A breaker that reacts within a demo's patience: the last 20 calls, at least 10
    // before the failure rate counts, open for 500 ms.
    let breaker = breakers().define(
        "db",
        BreakerConfig {
            minimum_calls: 10,
            sliding_window: SlidingWindow::Count(20),
            wait_in_open: Duration::from_millis(500),
            permitted_calls_in_half_open: 2,
            ..BreakerConfig::default()
        },
    )?;
    // Every breaker the attributes name must be declared: checked once, at start-up.
    breakers().verify()?;
    let mut events = breaker.subscribe();
    tokio::spawn(async move {
        while let Ok(event) = events.recv().await {
            println!(
                "  breaker `{}`: {:?} -> {:?}",
                event.breaker, event.from, event.to
            );
        }
    });

    let temp = std::env::temp_dir().join(format!("quickstart-{}.db", std::process::id()));
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}?mode=rwc", temp.display()));
    // POOL_PRESET=development|production|test|serverless picks the starting point.
    let preset = Preset::from_env()?.unwrap_or(Preset::Production);
    let config = Config::from_url(&url)?.with_preset(preset);
    println!("database: {} (preset {preset})", config.redacted_url());

    match config.kind {
        BackendKind::Sqlite => run_sqlite(&config).await?,
        BackendKind::Postgres => run_server::<Postgres>(&config, ServerRepo::postgres()).await?,
        BackendKind::MySql => run_server::<MySql>(&config, ServerRepo::mysql()).await?,
    }
    let _ = std::fs::remove_file(&temp);
    Ok(())
}

async fn run_sqlite(config: &Config) -> Result<(), Box<dyn std::error::Error>> {
    use sqlite::*;
    // busy_timeout 0: a locked database fails at once (SQLITE_BUSY, a transient error)
    // and the retry policy, not SQLite, decides how long to keep trying.
    let manager = config.manager::<Sqlite>()?.busy_timeout(Duration::ZERO);
    // The preset's settings, on a builder of our own (`Config::pool_builder` makes its
    // own manager, without the zero busy_timeout).
    let settings = config.settings();
    let pool = Pool::builder(manager)
        .name("quickstart")
        .max_size(4)
        .acquire_timeout(settings.acquire_timeout)
        .connect_timeout(settings.connect_timeout)
        .validation(settings.validation)
        .idle_timeout(settings.idle_timeout)
        .max_lifetime(settings.max_lifetime)
        .build_and_connect()
        .await?;

    println!("\n1. Normal work");
    create_schema(&pool).await?;
    for name in ["ada", "grace", "linus"] {
        add_user(&pool, name.to_string()).await?;
    }
    for name in ["ada", "ada", "grace"] {
        println!(
            "  visit({name}) = {}",
            visit(&pool, name.to_string()).await?
        );
    }

    println!("\n2. A second writer locks the database for 100 ms");
    let mut writer = sqlx::SqliteConnection::connect(config.sqlx_url().as_str()).await?;
    sqlx::query("BEGIN IMMEDIATE").execute(&mut writer).await?;
    let holder = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        sqlx::query("COMMIT")
            .execute(&mut writer)
            .await
            .map(|_| writer)
    });
    let before = ATTEMPTS.load(Ordering::Relaxed);
    let visits = visit(&pool, "ada".to_string()).await?;
    let attempts = ATTEMPTS.load(Ordering::Relaxed) - before;
    println!(
        "  visit(ada) = {visits} after {attempts} attempts ({} retries on SQLITE_BUSY)",
        attempts - 1
    );
    let mut writer = holder.await??;

    println!("\n3. The second writer holds the lock through three calls: the breaker opens");
    sqlx::query("BEGIN IMMEDIATE").execute(&mut writer).await?;
    let locked = std::time::Instant::now();
    for call in 1..=3 {
        let started = std::time::Instant::now();
        match visit(&pool, "grace".to_string()).await {
            Ok(visits) => println!("  call {call}: ok ({visits})"),
            Err(error) => println!(
                "  call {call}: failed after {:?}: {error}",
                started.elapsed()
            ),
        }
    }
    sqlx::query("COMMIT").execute(&mut writer).await?;
    println!(
        "  lock released after {} ms; 600 ms later the breaker lets calls through again",
        locked.elapsed().as_millis()
    );
    let breaker = breakers()
        .get("db")
        .ok_or("the breaker is declared above")?;
    tokio::time::sleep(Duration::from_millis(600)).await;
    for call in 4..=6 {
        let visits = visit(&pool, "grace".to_string()).await?;
        println!("  call {call}: ok ({visits})");
    }
    let state = breaker.snapshot().state;
    println!(
        "  breaker state now: {state:?}{}",
        if state == BreakerState::Closed {
            " (recovered)"
        } else {
            ""
        }
    );

    report(&pool).await?;
    Ok(())
}

/// The server repository's functions, chosen by backend.
struct ServerRepo<DB: pool_sqlx::Backend> {
    create_schema: fn(&Pool<SqlxManager<DB>>) -> BoxFuture<'_, ()>,
    add_user: fn(&Pool<SqlxManager<DB>>, String) -> BoxFuture<'_, ()>,
    visit: fn(&Pool<SqlxManager<DB>>, String) -> BoxFuture<'_, i64>,
    backend_id: fn(&Pool<SqlxManager<DB>>) -> BoxFuture<'_, i64>,
    kill: &'static str,
}

type BoxFuture<'a, T> = pool_sqlx::BoxFuture<'a, Result<T, Error>>;

impl ServerRepo<Postgres> {
    fn postgres() -> Self {
        ServerRepo {
            create_schema: |pool| Box::pin(postgres::create_schema(pool)),
            add_user: |pool, name| Box::pin(postgres::add_user(pool, name)),
            visit: |pool, name| Box::pin(postgres::visit(pool, name)),
            backend_id: |pool| Box::pin(postgres::backend_id(pool)),
            kill: "SELECT pg_terminate_backend($1::int)",
        }
    }
}

impl ServerRepo<MySql> {
    fn mysql() -> Self {
        ServerRepo {
            create_schema: |pool| Box::pin(mysql::create_schema(pool)),
            add_user: |pool, name| Box::pin(mysql::add_user(pool, name)),
            visit: |pool, name| Box::pin(mysql::visit(pool, name)),
            backend_id: |pool| Box::pin(mysql::backend_id(pool)),
            kill: "KILL ?",
        }
    }
}

async fn run_server<DB: pool_sqlx::Backend>(
    config: &Config,
    repo: ServerRepo<DB>,
) -> Result<(), Box<dyn std::error::Error>>
where
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    i64: sqlx::Type<DB> + for<'r> sqlx::Encode<'r, DB>,
    for<'a> <DB as sqlx::Database>::Arguments: sqlx::IntoArguments<DB>,
{
    // Eager: the connection is opened here, so an unreachable server is one error now
    // (after a few quick attempts), not a wait in the first query.
    let pool = config
        .pool_builder::<DB>("quickstart")?
        .max_size(1)
        .build_and_connect()
        .await?;

    println!("\n1. Normal work");
    (repo.create_schema)(&pool).await?;
    for name in ["ada", "grace", "linus"] {
        (repo.add_user)(&pool, name.to_string()).await?;
    }
    for name in ["ada", "ada", "grace"] {
        println!(
            "  visit({name}) = {}",
            (repo.visit)(&pool, name.to_string()).await?
        );
    }

    println!("\n2. The backend of the pooled connection is killed from outside");
    let victim = (repo.backend_id)(&pool).await?;
    let mut admin = DB::Connection::connect(config.sqlx_url().as_str()).await?;
    sqlx::query(repo.kill)
        .bind(victim)
        .execute(&mut admin)
        .await?;
    println!("  killed backend {victim}");
    let before = ATTEMPTS.load(Ordering::Relaxed);
    let visits = (repo.visit)(&pool, "ada".to_string()).await?;
    let attempts = ATTEMPTS.load(Ordering::Relaxed) - before;
    println!(
        "  visit(ada) = {visits} after {attempts} attempts: the dead connection was \
         discarded and the call retried on a new one (backend {})",
        (repo.backend_id)(&pool).await?
    );
    report(&pool).await?;
    Ok(())
}

async fn report<DB: pool_sqlx::Backend>(
    pool: &Pool<SqlxManager<DB>>,
) -> Result<(), Box<dyn std::error::Error>> {
    let status = pool.status();
    let metrics = pool.metrics();
    println!("\nThe pool");
    println!(
        "  {} open ({} idle, {} in use) of {}; {} created, {} discarded as broken",
        status.size,
        status.idle,
        status.in_use,
        status.max_size,
        metrics.connections_created,
        metrics.closed_broken
    );
    println!("\nHealth report");
    let report = health(pool, Duration::from_secs(2)).await;
    println!("{}", serde_json::to_string_pretty(&report)?);
    pool.close().await;
    Ok(())
}
