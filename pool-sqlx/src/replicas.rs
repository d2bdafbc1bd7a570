//! Read replicas on pool-sqlx: one PostgreSQL primary and any number of streaming
//! standbys, each an ordinary [`PgPool`], with lag-aware routing and read-your-writes.
//!
//! The set is `pool_facts::replicas::Replicas` (the rules, the lag probe, routing,
//! read-your-writes and status are there, shared with pool-postgres; its documentation
//! is the whole story) over [`SqlxManager<Postgres>`]; this module is only how sqlx asks
//! a server where its WAL stands, builds a member's pool, reports its health and runs a
//! transaction.
//!
//! ```no_run
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use pool_sqlx::{Config, Replicas, sqlx};
//!
//! let set = Replicas::builder(Config::from_url("postgres://app@db-primary/app")?)
//!     .replica(Config::from_url("postgres://app@db-replica-1/app")?)
//!     .replica(Config::from_url("postgres://app@db-replica-2/app")?)
//!     .max_replica_lag(Duration::from_secs(2))
//!     .build()?;
//!
//! let mut conn = set.primary().get().await?;
//! sqlx::query("UPDATE users SET name = 'x' WHERE id = 1").execute(&mut **conn).await?;
//! drop(conn);
//! let token = set.write_token().await;
//!
//! let mut conn = set.replica_after(&token).await.get().await?; // sees the update
//! let name: String = sqlx::query_scalar("SELECT name FROM users WHERE id = 1")
//!     .fetch_one(&mut **conn)
//!     .await?;
//! # let _ = name; Ok(()) }
//! ```
//!
//! A `#[pooled(read)]` function taking `&mut PgConnection` takes the set (reads from
//! [`replica()`](pool_facts::replicas::Replicas::replica), asked anew for each attempt):
//!
//! ```no_run
//! # use pool_sqlx::{Error, Replicas, pooled, sqlx::{self, PgConnection}};
//! // (`crate = pool_sqlx`: only because this example is built as one of pool-sqlx's own
//! // doctests, where the macro would otherwise name the runtime `crate`.)
//! #[pooled(read, crate = pool_sqlx)]
//! async fn count_users(conn: &mut PgConnection) -> Result<i64, Error> {
//!     Ok(sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(&mut *conn).await?)
//! }
//! # async fn f(set: &Replicas) -> Result<(), Error> {
//! let users = count_users(set).await?; // on a replica within max_replica_lag
//! # let _ = users; Ok(()) }
//! ```

use std::time::Duration;

use pool_core::{Classify, Manager, Resilience};
use pool_facts::replicas::{BoxFuture, ReplicaBinding};
use sqlx::{Postgres, Row, postgres::PgConnection};

use crate::{
    Backend, BackendKind, Config, Error, Health, PgPool, SqlxConnection, SqlxError, SqlxManager,
};

pub use pool_facts::replicas::{
    DEFAULT_MAX_REPLICA_LAG, DEFAULT_PROBE_EVERY, DEFAULT_READ_YOUR_WRITES_POLL,
    DEFAULT_READ_YOUR_WRITES_WAIT, Lsn, PROBE_TIMEOUT, PrimaryPosition, ReplayPosition,
    ReplicaHealth, ReplicaStatus, ReplicasHealth, ReplicasStatus, WriteToken,
};

/// One primary [`PgPool`] and any number of replica pools, with lag-aware routing of
/// reads and read-your-writes: `pool_facts::replicas::Replicas` over pool-sqlx's
/// PostgreSQL manager (see [the module](self)).
pub type Replicas = pool_facts::replicas::Replicas<SqlxManager<Postgres>>;

/// Builds a [`Replicas`] set; from `Replicas::builder`.
pub type ReplicasBuilder = pool_facts::replicas::ReplicasBuilder<SqlxManager<Postgres>>;

/// Why a [`Replicas`] set could not be built.
pub type ReplicasError = pool_facts::replicas::ReplicasError<Error>;

/// sqlx's side of a replica set: the position queries through `raw_sql` (simple
/// protocol), pools from a [`Config`], [`health`](crate::health) and
/// [`transaction`](crate::transaction()), whose body gets sqlx's `PgConnection`.
impl ReplicaBinding for SqlxManager<Postgres> {
    type Config = Config;
    type BindingError = Error;
    type TransactionConnection = PgConnection;

    fn kind(config: &Config) -> BackendKind {
        config.kind
    }

    fn build_pool(config: &Config, name: &str) -> Result<PgPool, Error> {
        config.build_pool::<Postgres>(name)
    }

    fn description(&self) -> &str {
        SqlxManager::description(self)
    }

    async fn probe_connection(&self) -> Result<SqlxConnection<Postgres>, SqlxError> {
        let mut conn = self.connect().await?;
        conn.leave_host_count();
        Ok(conn)
    }

    async fn primary_position(
        conn: &mut SqlxConnection<Postgres>,
    ) -> Result<PrimaryPosition, SqlxError> {
        let row = sqlx::raw_sql(pool_facts::replicas::PRIMARY_POSITION_QUERY)
            .fetch_one(conn.raw_mut())
            .await?;
        PrimaryPosition::from_offsets(row.try_get(0)?, row.try_get(1)?)
            .map_err(|why| SqlxError::from(sqlx::Error::Protocol(why.to_owned())))
    }

    async fn replay_position(
        conn: &mut SqlxConnection<Postgres>,
    ) -> Result<ReplayPosition, SqlxError> {
        Postgres::replay_position(conn.raw_mut())
            .await?
            .ok_or_else(|| {
                SqlxError::from(sqlx::Error::Protocol(
                    "the server reports no replay position".into(),
                ))
            })
    }

    async fn health(pool: &PgPool, timeout: Duration) -> Health {
        crate::health(pool, timeout).await
    }

    async fn transaction<T, E, F>(pool: &PgPool, policy: &Resilience, body: F) -> Result<T, E>
    where
        E: Classify + From<Error>,
        F: for<'c> FnMut(&'c mut PgConnection) -> BoxFuture<'c, Result<T, E>>,
    {
        crate::transaction(pool, policy, body).await
    }
}
