//! [`ReplicaBinding`]: what a binding supplies for a [`Replicas`](super::Replicas) set of its pools: how
//! its driver asks a server where its WAL stands, how it builds a member's pool, and its
//! health report and transaction door. Implemented by each binding's manager
//! (`pool_sqlx::SqlxManager<Postgres>`, `pool_postgres::PostgresManager`); the set's
//! rules never see a driver.

use std::{fmt, future::Future, pin::Pin, time::Duration};

use pool_core::{Classify, Manager, Pool, PoolError, Resilience};

use super::{PrimaryPosition, ReplayPosition};
use crate::{BackendKind, health::Health};

/// A boxed, `Send` future borrowing the connection: what a transaction body returns (the
/// same type as each binding's `BoxFuture`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A binding's manager of PostgreSQL connections, as a [`Replicas`](super::Replicas) set uses it.
pub trait ReplicaBinding:
    Manager<Connection: Send, Error: fmt::Display> + Send + Sync + Sized + 'static
{
    /// What configures one member of the set: the binding's `Config`.
    type Config: fmt::Debug + Send + Sync;
    /// The error the binding's functions return (`pool_sqlx::Error`,
    /// `pool_postgres::Error`).
    type BindingError: std::error::Error
        + Classify
        + From<PoolError<Self::Error>>
        + From<Self::Error>
        + Send
        + Sync
        + 'static;
    /// What a body of the binding's `transaction()` is handed.
    type TransactionConnection: ?Sized;

    /// The backend `config`'s URL names (a set is PostgreSQL's alone).
    fn kind(config: &Self::Config) -> BackendKind;

    /// Builds the pool named `name` from `config` (lazily: no connection yet).
    fn build_pool(config: &Self::Config, name: &str) -> Result<Pool<Self>, Self::BindingError>;

    /// The server, as errors and logs name it (no password).
    fn description(&self) -> &str;

    /// A connection of the lag probe's own: made as the pool's are, but not counted on
    /// its host (`pool_host_connections`), since it is no pool's.
    fn probe_connection(
        &self,
    ) -> impl Future<Output = Result<Self::Connection, Self::Error>> + Send;

    /// The primary's WAL positions, by [`PRIMARY_POSITION_QUERY`](super::PRIMARY_POSITION_QUERY).
    fn primary_position(
        conn: &mut Self::Connection,
    ) -> impl Future<Output = Result<PrimaryPosition, Self::Error>> + Send;

    /// Where a server's WAL receive and replay stand, by [`REPLAY_POSITION_QUERY`](super::REPLAY_POSITION_QUERY).
    fn replay_position(
        conn: &mut Self::Connection,
    ) -> impl Future<Output = Result<ReplayPosition, Self::Error>> + Send;

    /// The binding's health report on `pool`, within `timeout`.
    fn health(pool: &Pool<Self>, timeout: Duration) -> impl Future<Output = Health> + Send;

    /// The binding's `transaction(pool, policy, body)`.
    fn transaction<T, E, F>(
        pool: &Pool<Self>,
        policy: &Resilience,
        body: F,
    ) -> impl Future<Output = Result<T, E>>
    where
        E: Classify + From<Self::BindingError>,
        F: for<'c> FnMut(&'c mut Self::TransactionConnection) -> BoxFuture<'c, Result<T, E>>;
}
