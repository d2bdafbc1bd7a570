//! Serverless: one handler invoked many times by the same process, as a warm function
//! container is, on a process-wide pool with the `Serverless` preset.
//!
//! ```sh
//! cargo run --example serverless                      # embedded SQLite, a temp file
//! cargo run --example serverless -- --invocations 50
//! DATABASE_URL=postgres://postgres@127.0.0.1/test cargo run --example serverless
//! DATABASE_URL=mysql://root@127.0.0.1/test cargo run --example serverless
//! ```
//!
//! The cold start initialises `static DB: GlobalPool<…>` once, without connecting
//! (`Preset::Serverless`: one connection, opened lazily, closed after 30 s idle, 5 min
//! lifetime). The first invocation opens the connection; every later one reuses it.
//! The program prints each invocation's latency and, at the end, the pool's
//! `connections_created`: 1.
//!
//! `POOL_PRESET` replaces the `Serverless` preset when it is set (a name that is no
//! preset is an error). A database that cannot be reached fails the first invocation
//! once the pool's acquire timeout has passed (5 s under `Serverless`), with one line on
//! stderr and exit status 1: a function does not retry its own cold start, the platform
//! retries the invocation.

use std::time::{Duration, Instant};

use pool_sqlx::{BackendKind, Config, Error, Preset, Status};

/// What one invocation receives.
#[derive(Debug, Clone)]
struct Event {
    /// Which counter to bump.
    key: String,
}

/// What one invocation answers.
#[derive(Debug)]
struct Reply {
    /// The counter after this invocation.
    count: i64,
}

/// The function's code, written once per backend: a process-wide pool named `DB`, the
/// repository on it and the handler.
macro_rules! function {
    ($module:ident, $db:ty, $connection:ty, $upsert:literal, $select:literal) => {
        mod $module {
            use pool_sqlx::{
                Config, Error, GlobalPool, Pool, SqlxManager, pooled, resilient, sqlx,
            };

            use super::{Event, Reply};

            /// The process-wide pool: survives between invocations of a warm container.
            pub(crate) static DB: GlobalPool<SqlxManager<$db>> = GlobalPool::new("db");

            /// Set once the table exists: the first invocation creates it.
            static SCHEMA: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();

            /// The cold start: installs the pool (no connection is opened yet). A second
            /// call is an error ([`pool_sqlx::AlreadyInitialized`]), not a second pool.
            pub(crate) fn init(
                config: &Config,
            ) -> Result<&'static Pool<SqlxManager<$db>>, Box<dyn std::error::Error>> {
                let pool = config.build_pool::<$db>("serverless")?;
                Ok(DB.init(pool)?)
            }

            /// Creates the table (idempotent: `IF NOT EXISTS`). Not retried: it is the
            /// first thing an invocation does, so a database that cannot be reached fails
            /// that invocation within one acquire timeout, and the platform retries it.
            #[pooled(pool = DB)]
            async fn create_schema(conn: &mut $connection) -> Result<(), Error> {
                sqlx::query(
                    "CREATE TABLE IF NOT EXISTS serverless_counters \
                     (name VARCHAR(64) PRIMARY KEY, count BIGINT NOT NULL)",
                )
                .execute(&mut *conn)
                .await?;
                Ok(())
            }

            /// Bumps a counter and reads it back, in one transaction; retried only on
            /// failures the server did not apply (not idempotent).
            #[resilient(retries = 2, base = "50ms", max_delay = "500ms", timeout = "10s")]
            #[pooled(pool = DB, transaction)]
            async fn bump(conn: &mut $connection, key: String) -> Result<i64, Error> {
                sqlx::query($upsert).bind(&key).execute(&mut *conn).await?;
                let count: i64 = sqlx::query_scalar($select)
                    .bind(&key)
                    .fetch_one(&mut *conn)
                    .await?;
                Ok(count)
            }

            /// The handler the platform calls once per invocation.
            pub(crate) async fn handler(event: Event) -> Result<Reply, Error> {
                SCHEMA.get_or_try_init(create_schema).await?;
                let count = bump(event.key).await?;
                Ok(Reply { count })
            }
        }
    };
}

function!(
    sqlite,
    pool_sqlx::sqlx::Sqlite,
    sqlx::SqliteConnection,
    "INSERT INTO serverless_counters (name, count) VALUES ($1, 1) \
     ON CONFLICT (name) DO UPDATE SET count = serverless_counters.count + 1",
    "SELECT count FROM serverless_counters WHERE name = $1"
);
function!(
    postgres,
    pool_sqlx::sqlx::Postgres,
    sqlx::PgConnection,
    "INSERT INTO serverless_counters (name, count) VALUES ($1, 1) \
     ON CONFLICT (name) DO UPDATE SET count = serverless_counters.count + 1",
    "SELECT count FROM serverless_counters WHERE name = $1"
);
function!(
    mysql,
    pool_sqlx::sqlx::MySql,
    sqlx::MySqlConnection,
    "INSERT INTO serverless_counters (name, count) VALUES (?, 1) \
     ON DUPLICATE KEY UPDATE count = count + 1",
    "SELECT count FROM serverless_counters WHERE name = ?"
);

/// The pool as this program reports it, whichever backend it is.
struct PoolView {
    status: fn() -> Option<Status>,
    connections_created: fn() -> Option<u64>,
    handler: fn(Event) -> pool_sqlx::BoxFuture<'static, Result<Reply, Error>>,
}

macro_rules! view {
    ($module:ident) => {
        PoolView {
            status: || $module::DB.get().ok().map(|pool| pool.status()),
            connections_created: || {
                $module::DB
                    .get()
                    .ok()
                    .map(|pool| pool.metrics().connections_created)
            },
            handler: |event| Box::pin($module::handler(event)),
        }
    };
}

/// `--invocations N` (default 20).
fn invocations() -> Result<usize, UsageError> {
    let mut args = std::env::args().skip(1);
    let mut invocations = 20;
    while let Some(arg) = args.next() {
        let value = match arg.strip_prefix("--invocations=") {
            Some(value) => value.to_owned(),
            None if arg == "--invocations" => args.next().ok_or(UsageError)?,
            None => return Err(UsageError),
        };
        invocations = value.parse().map_err(|_| UsageError)?;
        if invocations == 0 {
            return Err(UsageError);
        }
    }
    Ok(invocations)
}

/// A command line this program does not understand.
#[derive(Debug, thiserror::Error)]
#[error("usage: serverless [--invocations N], N at least 1")]
struct UsageError;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            // Display, not Debug: the message is what a user needs.
            eprintln!("error: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_target(false)
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .compact()
        .init();
    let invocations = match invocations() {
        Ok(invocations) => invocations,
        Err(usage) => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    };

    // Cold start: configuration and the process-wide pool, once per container.
    // The SQLite file, removed when `run` returns, whichever way.
    let temp = TempFile(std::env::temp_dir().join(format!("serverless-{}.db", std::process::id())));
    let url = match std::env::var("DATABASE_URL") {
        Ok(url) => url,
        Err(_) => format!("sqlite://{}?mode=rwc", temp.0.display()),
    };
    // POOL_PRESET, when set, replaces the preset this function is written for.
    let preset = Preset::from_env()?.unwrap_or(Preset::Serverless);
    let config = Config::from_url(&url)?.with_preset(preset);
    println!("settings (password redacted):");
    for line in config.settings().to_string().lines() {
        println!("  {line}");
    }
    let pool = match config.kind {
        BackendKind::Sqlite => {
            sqlite::init(&config)?;
            view!(sqlite)
        }
        BackendKind::Postgres => {
            postgres::init(&config)?;
            view!(postgres)
        }
        BackendKind::MySql => {
            mysql::init(&config)?;
            view!(mysql)
        }
    };
    let status = (pool.status)().ok_or("the pool was just initialised")?;
    println!(
        "cold start: process-wide pool `db` ready: at most {} connection, {} open",
        status.max_size, status.size
    );

    // Warm invocations: the same process calls the handler again and again.
    let mut latencies = Vec::with_capacity(invocations);
    for invocation in 1..=invocations {
        let started = Instant::now();
        let reply = (pool.handler)(Event {
            key: "invocations".to_owned(),
        })
        .await?;
        let took = started.elapsed();
        latencies.push(took);
        let created = (pool.connections_created)().unwrap_or(0);
        if invocation <= 3 || invocation == invocations {
            println!(
                "invocation {invocation:>3}: {:>8.3} ms  count = {:<4} connections created so far: {created}",
                millis(took),
                reply.count
            );
        } else if invocation == 4 {
            println!("  …");
        }
    }

    let created = (pool.connections_created)().unwrap_or(0);
    let status = (pool.status)().ok_or("the pool is initialised")?;
    let first = latencies.first().copied().unwrap_or_default();
    let mut rest = latencies.get(1..).unwrap_or_default().to_vec();
    rest.sort();
    println!("\nafter {invocations} invocations");
    println!(
        "  connections created: {created} ({} open, {} idle) — one connection, reused by \
         every invocation after the first",
        status.size, status.idle
    );
    println!(
        "  first invocation (connect + schema + work): {:.3} ms",
        millis(first)
    );
    if let (Some(median), Some(max)) = (rest.get(rest.len() / 2), rest.last()) {
        println!(
            "  the other {}: median {:.3} ms, max {:.3} ms",
            rest.len(),
            millis(*median),
            millis(*max)
        );
    }
    if config.kind == BackendKind::Sqlite {
        println!(
            "  (SQLite in a file: each commit waits for the disk to sync, most of the time above)"
        );
    }
    if created != 1 {
        println!("  (expected 1 connection: the connection was lost and reopened)");
    }
    Ok(())
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// A file removed on drop (with SQLite's `-journal`/`-wal`/`-shm` companions).
struct TempFile(std::path::PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        for suffix in ["", "-journal", "-wal", "-shm"] {
            let mut path = self.0.clone().into_os_string();
            path.push(suffix);
            // Best effort: the file may never have been created.
            let _ = std::fs::remove_file(path);
        }
    }
}
