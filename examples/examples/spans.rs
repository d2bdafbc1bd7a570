//! One `#[resilient]` call, retried twice and then answered, as its spans show it: the
//! call, its three attempts, the checkout inside each (`pool_core::spans`).
//!
//! ```sh
//! cargo run --example spans      # embedded SQLite, in memory
//! ```
//!
//! The subscriber is `tracing-subscriber`'s formatter, writing each span as it closes
//! (children before their parent), with every field the span recorded. Any subscriber
//! works the same: `tracing-opentelemetry` exports the same tree to a trace backend.

use std::sync::atomic::{AtomicU32, Ordering};

use pool_sqlx::{
    Classify, Config, Delivery, ErrorClass, Pool, SqlxManager, pooled, resilient,
    sqlx::{self, Sqlite, SqliteConnection},
};
use tracing_subscriber::{EnvFilter, fmt::format::FmtSpan};

/// Attempts so far: the first two fail, as a row lock held elsewhere would make them.
static ATTEMPTS: AtomicU32 = AtomicU32::new(0);

#[derive(Debug, thiserror::Error)]
enum AppError {
    #[error(transparent)]
    Db(#[from] pool_sqlx::Error),
    #[error("the row is locked (simulated)")]
    Locked,
}

impl From<sqlx::Error> for AppError {
    fn from(error: sqlx::Error) -> Self {
        AppError::Db(error.into())
    }
}

impl Classify for AppError {
    fn class(&self) -> ErrorClass {
        match self {
            AppError::Db(error) => error.class(),
            AppError::Locked => ErrorClass::Transient,
        }
    }
    fn delivery(&self) -> Delivery {
        match self {
            AppError::Db(error) => error.delivery(),
            AppError::Locked => Delivery::Rejected,
        }
    }
}

/// Looks a user up: retried on transient failures, after up to 20 ms (a fixed step, full
/// jitter).
#[resilient(retries = 3, backoff = "fixed", base = "20ms")]
#[pooled]
async fn find_user(conn: &mut SqliteConnection, id: i64) -> Result<i64, AppError> {
    if ATTEMPTS.fetch_add(1, Ordering::Relaxed) < 2 {
        return Err(AppError::Locked);
    }
    Ok(sqlx::query_scalar("SELECT ?")
        .bind(id)
        .fetch_one(&mut *conn)
        .await?)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    tracing_subscriber::fmt()
        // The pool's spans: calls and attempts at INFO, checkouts at DEBUG.
        .with_env_filter(EnvFilter::new("pool_core=debug"))
        .with_span_events(FmtSpan::CLOSE)
        .without_time()
        .with_ansi(false)
        .init();
    if let Err(error) = run().await {
        eprintln!("error: {error}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let pool: Pool<SqlxManager<Sqlite>> =
        Config::from_url("sqlite::memory:")?.build_pool("users")?;
    let id = find_user(&pool, 7).await?;
    println!(
        "find_user(7) = {id} after {} attempts",
        ATTEMPTS.load(Ordering::Relaxed)
    );
    pool.close().await;
    Ok(())
}
