//! Read replicas on pool-postgres: one PostgreSQL primary and any number of streaming
//! standbys, each an ordinary [`PostgresPool`], with lag-aware routing and
//! read-your-writes: pool-sqlx's `Replicas`, run by the same code.
//!
//! The set is `pool_facts::replicas::Replicas` (the rules, the lag probe, routing,
//! read-your-writes and status are there, shared with pool-sqlx; its documentation is the
//! whole story) over [`PostgresManager`]; this module is only how tokio-postgres asks a
//! server where its WAL stands (the shared queries, sent with `simple_query`, read as
//! text), builds a member's pool, reports its health and runs a transaction.
//!
//! ```no_run
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use pool_postgres::{Config, Replicas};
//!
//! let set = Replicas::builder(Config::from_url("postgres://app@db-primary/app")?)
//!     .replica(Config::from_url("postgres://app@db-replica-1/app")?)
//!     .max_replica_lag(Duration::from_secs(2))
//!     .build()?;
//!
//! let conn = set.primary().get().await?;
//! conn.execute("UPDATE users SET name = 'x' WHERE id = 1", &[]).await?;
//! drop(conn);
//! let token = set.write_token().await;
//!
//! let conn = set.replica_after(&token).await.get().await?; // sees the update
//! let name: String = conn.query_one("SELECT name FROM users WHERE id = 1", &[]).await?.get(0);
//! # let _ = name; Ok(()) }
//! ```
//!
//! A `#[pooled(read)]` function taking `&mut pool_postgres::Client` takes the set (reads
//! from [`replica()`](pool_facts::replicas::Replicas::replica), asked anew for each
//! attempt):
//!
//! ```no_run
//! # use pool_postgres::{Client, Error, Replicas, pooled};
//! // (`crate = pool_postgres`: only because this example is built as one of
//! // pool-postgres's own doctests.)
//! #[pooled(read, crate = pool_postgres)]
//! async fn count_users(conn: &mut Client) -> Result<i64, Error> {
//!     Ok(conn.query_one_cached("SELECT count(*) FROM users", &[]).await?.get(0))
//! }
//! # async fn f(set: &Replicas) -> Result<(), Error> {
//! let users = count_users(set).await?; // on a replica within max_replica_lag
//! # let _ = users; Ok(()) }
//! ```

use std::time::Duration;

use pool_core::{Classify, Manager, Resilience};
use pool_facts::{
    BackendKind,
    replicas::{BoxFuture, PRIMARY_POSITION_QUERY, REPLAY_POSITION_QUERY, ReplicaBinding},
};
use tokio_postgres::{SimpleQueryMessage, SimpleQueryRow};

use crate::{Client, Config, Error, Health, PgError, PostgresManager, PostgresPool};

pub use pool_facts::replicas::{
    DEFAULT_MAX_REPLICA_LAG, DEFAULT_PROBE_EVERY, DEFAULT_READ_YOUR_WRITES_POLL,
    DEFAULT_READ_YOUR_WRITES_WAIT, Lsn, PROBE_TIMEOUT, PrimaryPosition, ReplayPosition,
    ReplicaHealth, ReplicaStatus, ReplicasHealth, ReplicasStatus, WriteToken,
};

/// One primary [`PostgresPool`] and any number of replica pools, with lag-aware routing
/// of reads and read-your-writes: `pool_facts::replicas::Replicas` over
/// [`PostgresManager`] (see [the module](self)).
pub type Replicas = pool_facts::replicas::Replicas<PostgresManager>;

/// Builds a [`Replicas`] set; from `Replicas::builder`.
pub type ReplicasBuilder = pool_facts::replicas::ReplicasBuilder<PostgresManager>;

/// Why a [`Replicas`] set could not be built.
pub type ReplicasError = pool_facts::replicas::ReplicasError<Error>;

/// The first row of a simple-protocol answer.
fn first_row(messages: &[SimpleQueryMessage]) -> Option<&SimpleQueryRow> {
    messages.iter().find_map(|message| match message {
        SimpleQueryMessage::Row(row) => Some(row),
        _ => None,
    })
}

/// tokio-postgres's side of a replica set: the position queries through `simple_query`
/// (one message, read as text), pools from a [`Config`], [`health`](crate::health) and
/// [`transaction`](crate::transaction()), whose body gets the [`Client`].
impl ReplicaBinding for PostgresManager {
    type Config = Config;
    type BindingError = Error;
    type TransactionConnection = Client;

    fn kind(config: &Config) -> BackendKind {
        config.kind
    }

    fn build_pool(config: &Config, name: &str) -> Result<PostgresPool, Error> {
        config.build_pool(name)
    }

    fn description(&self) -> &str {
        PostgresManager::description(self)
    }

    async fn probe_connection(&self) -> Result<Client, PgError> {
        // Not a pool's connection: out of its host's count at once.
        Ok(self.connect().await?.seated(None))
    }

    async fn primary_position(client: &mut Client) -> Result<PrimaryPosition, PgError> {
        let messages = client.observe(client.simple_query(PRIMARY_POSITION_QUERY).await)?;
        let row =
            first_row(&messages).ok_or(PgError::Dirty("the WAL position query gave no row"))?;
        PrimaryPosition::from_text([row.get(0), row.get(1)]).map_err(PgError::Dirty)
    }

    async fn replay_position(client: &mut Client) -> Result<ReplayPosition, PgError> {
        let messages = client.observe(client.simple_query(REPLAY_POSITION_QUERY).await)?;
        let row =
            first_row(&messages).ok_or(PgError::Dirty("the replay position query gave no row"))?;
        ReplayPosition::from_text([row.get(0), row.get(1), row.get(2), row.get(3)])
            .map_err(PgError::Dirty)
    }

    async fn health(pool: &PostgresPool, timeout: Duration) -> Health {
        crate::health(pool, timeout).await
    }

    async fn transaction<T, E, F>(pool: &PostgresPool, policy: &Resilience, body: F) -> Result<T, E>
    where
        E: Classify + From<Error>,
        F: for<'c> FnMut(&'c mut Client) -> BoxFuture<'c, Result<T, E>>,
    {
        crate::transaction(pool, policy, body).await
    }
}
