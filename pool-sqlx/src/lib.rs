//! `pool-core` bound to sqlx for PostgreSQL, MySQL/MariaDB and SQLite.
//!
//! Depend on this crate alone: it re-exports the pool, the policies and the macros.
//!
//! - [`SqlxManager`] makes, sets up, checks and closes sqlx connections for a [`Pool`];
//!   the pool hands out [`SqlxConnection`]s, which deref to the sqlx connection.
//! - [`classify()`](classify::classify) reads a `sqlx::Error`'s SQLSTATE / MySQL error
//!   number / SQLite code; [`SqlxError`] and [`Error`] implement [`Classify`] with it.
//! - [`Config::from_url`] reads `connection_limit`, `pool_timeout`, ... from a
//!   `DATABASE_URL`; [`Config::from_env`] reads `DATABASE_URL` and the [`Preset`] named by
//!   `POOL_PRESET`; `Config::settings` prints the values in force, password redacted.
//! - [`transaction()`] re-runs a whole transaction after a serialization failure or deadlock.
//! - [`health`] reports on a pool, its breakers and its database without the password:
//!   `healthy`, `degraded` or `unhealthy` (`HealthStatus`), within a time limit; the
//!   report, its JSON and the rule are `pool_facts::health`'s, the same on pool-postgres.
//! - [`Replicas`]: one primary pool and replica pools, reads routed round-robin to the
//!   replicas within `max_replica_lag`, writes to the primary, read-your-writes with a
//!   [`WriteToken`] (see [`replicas`]).
//! - [`check_capacity`] reads the server's `max_connections` at start-up and warns when
//!   `max_size × instances + reserved` exceeds it ([`size_for_instances`] says what fits).
//! - [`slow_query`]: statements slower than a threshold (`slow_query=500ms`, 1 s by
//!   default) are logged with their text and duration, never their bound values.
//! - [`bouncer`]: behind PgBouncer in transaction mode (`pgbouncer=true`), what the pool
//!   does differently and what your own queries must do.
//!
//! # Connection hygiene
//!
//! sqlx connections cannot say whether they are broken, so the pool learns it without a
//! round trip on the return path:
//!
//! - `#[pooled]` code calls `Pooled::begin_operation`/`finish`: a body whose future is
//!   dropped mid-flight (timeout, cancellation) or that fails with a `Connection`-class
//!   error discards its connection. Manual users get the same with
//!   [`SqlxConnection::operation`] and [`SqlxConnection::observe`].
//! - A connection returned inside a transaction sqlx knows about (begun through
//!   `TransactionManager::begin`, `#[pooled(transaction)]`, [`transaction()`] or
//!   `Connection::begin` + `mem::forget`) is discarded on return; the server rolls it back.
//! - One left inside a transaction begun with raw SQL (`BEGIN`), which sqlx does not track,
//!   is caught by the check (`Manager::check`: PostgreSQL compares `now()` with
//!   `statement_timestamp()`, MySQL/MariaDB reads `@@in_transaction`) whenever the pool
//!   validates it (`Validation::Always`, or after `validate_after` idle). SQLite's check is
//!   a plain ping.
//!
//! ```no_run
//! # async fn f() -> Result<(), pool_sqlx::Error> {
//! use pool_sqlx::{Config, sqlx::Postgres};
//! let config = Config::from_url("postgres://app@db/app?connection_limit=20&pool_timeout=5")?;
//! let pool = config.build_pool::<Postgres>("app")?;
//! let mut conn = pool.get().await?;
//! let one: i32 = pool_sqlx::sqlx::query_scalar("SELECT 1").fetch_one(&mut **conn).await?;
//! # let _ = one; Ok(()) }
//! ```

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;
mod backend;
pub mod bouncer;
mod capacity;
pub mod classify;
mod config;
mod connection;
mod error;
pub mod failover;
mod health;
mod host_tally;
mod manager;
pub mod replicas;
mod server_error;
pub mod slow_query;
mod transaction_with_retry;

pub use pool_core::*;
pub use pool_macros::{pooled, resilient};
pub use sqlx;

pub use backend::{Backend, Options, Session};
pub use capacity::{CapacityReport, check_capacity};
pub use config::{
    BackendKind, Config, DEFAULT_PORT, Host, LoadBalanceHosts, MAX_HOSTS, Preset, Settings,
    TargetSessionAttrs, UnknownPreset, parse_duration,
};
pub use connection::{Operation, SqlxConnection};
pub use error::{Error, SqlxError};
pub use failover::{HostHealth, NoHostAvailable, ServerRole, SkippedHost};
pub use health::{
    BreakerHealth, CheckReport, Health, HealthStatus, SERVER_NEARLY_FULL, ServerView, health,
    health_with,
};
pub use manager::{SetupHook, SqlxManager, on_connect};
pub use pool_facts;
pub use replicas::{
    Lsn, ReplayPosition, ReplicaHealth, ReplicaStatus, Replicas, ReplicasBuilder, ReplicasError,
    ReplicasHealth, ReplicasStatus, WriteToken,
};
pub use transaction_with_retry::{BoxFuture, transaction};

/// A pool of PostgreSQL connections.
pub type PgPool = Pool<SqlxManager<sqlx::Postgres>>;
/// A pool of MySQL/MariaDB connections.
pub type MySqlPool = Pool<SqlxManager<sqlx::MySql>>;
/// A pool of SQLite connections.
pub type SqlitePool = Pool<SqlxManager<sqlx::Sqlite>>;
