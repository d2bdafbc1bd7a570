//! `pool-core` bound to tokio-postgres: the same pool, policies and URL parameters as
//! pool-sqlx, on the cheaper driver.
//!
//! **First cut.** What is here: [`PostgresManager`] (connect, with its connection task
//! spawned and ended with the client; the check; broken detection; recovery of a
//! cancelled call), [`Error`] with [`Classify`] from the shared
//! SQLSTATE table (`pool_facts::sqlstate`, the one pool-sqlx reads), transactions
//! through `pool_core::transaction`, and [`Config`], the same `DATABASE_URL` parser as
//! pool-sqlx's. The connection handed out is a [`Client`]: `tokio_postgres::Client` by
//! `Deref` and `Borrow`, plus a bounded statement cache
//! ([`Client::prepare_cached`], `statement_cache_size`, off with `pgbouncer=true`) and
//! broken marking, and TLS through rustls for
//! `sslmode=prefer|require|verify-ca|verify-full` with libpq's meanings (see [`tls`]).
//! A URL without `sslmode` is `prefer`, libpq's default and pool-sqlx's
//! (`pool_facts::DEFAULT_SSL_MODE`): TLS when the server offers it, plain text when it
//! does not; `sslmode=disable` for plain text always.
//! The multi-host walk is pool-sqlx's, by the same rules (see [`failover`]), and
//! [`Replicas`] is pool-sqlx's set of a primary and its standbys, run by the same code
//! (see [`replicas`]). Not yet: client certificates. [`health`]
//! gives pool-sqlx's report (the same types, JSON and rule, from `pool_facts::health`),
//! and the pool records pool-sqlx's metric names.
//!
//! ```no_run
//! # async fn f() -> Result<(), pool_postgres::Error> {
//! let config = pool_postgres::Config::from_url("postgres://app@db/app?connection_limit=20")?;
//! let pool = config.build_pool("app")?;
//! let conn = pool.get().await?;
//! let row = conn.query_one("SELECT 1::int4", &[]).await?;
//! let one: i32 = row.get(0);
//! // Prepared once per connection, then taken from its cache.
//! let statement = conn.prepare_cached("SELECT $1::int8").await?;
//! let row = conn.query_one(&statement, &[&42_i64]).await?;
//! # let _ = (one, row); Ok(()) }
//! ```

#[doc(hidden)]
pub mod __private {
    pub use crate::private::*;
}
mod client;
mod config;
mod error;
pub mod failover;
mod health;
mod manager;
mod private;
pub mod replicas;
mod statement_cache;
pub mod tls;
mod transaction_with_retry;

pub use pool_core::*;
pub use pool_facts;
pub use pool_macros::{pooled, resilient};
pub use tokio_postgres;

pub use client::Client;
pub use config::Config;
pub use error::{Error, PgError};
pub use health::{health, health_with};
pub use manager::PostgresManager;
pub use pool_facts::health::{
    BreakerHealth, CheckReport, Health, HealthStatus, HostHealth, SERVER_NEARLY_FULL, ServerView,
};
pub use replicas::{
    Lsn, ReplayPosition, ReplicaHealth, ReplicaStatus, Replicas, ReplicasBuilder, ReplicasError,
    ReplicasHealth, ReplicasStatus, WriteToken,
};
pub use transaction_with_retry::{BoxFuture, transaction};

/// A pool of tokio-postgres clients (each a [`Client`]).
pub type PostgresPool = Pool<PostgresManager>;
