//! What is true of a database whatever the driver that talks to it.
//!
//! The bindings (`pool-sqlx`, `pool-postgres`) own how they talk; this crate owns what
//! they must agree on, so that a URL, an error code or a multi-host walk means the same on
//! each:
//!
//! - [`config`]: a `DATABASE_URL` and its pool parameters (`connection_limit`,
//!   `pool_timeout`, `target_session_attrs`, several hosts, ...), the [`Preset`]s, and
//!   the pool settings they give.
//! - [`sqlstate`]: PostgreSQL's SQLSTATE codes as an `ErrorClass`
//!   and a `Delivery`; MySQL's error numbers and SQLite's result
//!   codes beside them.
//! - [`hosts`]: libpq's `target_session_attrs` rules, the role query, and the connect walk
//!   over a multi-host URL, driven by a binding's [`HostConnector`](hosts::HostConnector).
//! - [`health`]: the health report every binding gives (its types and JSON, the
//!   healthy / degraded / unhealthy rule, the time limit), around a binding's probe.
//! - [`slow_query`]: the slow-statement event (sqlx's, which pool-sqlx's driver raises),
//!   for a binding that times its statements itself.
//! - [`replicas`]: a primary and its streaming standbys as one set of a binding's pools
//!   (WAL positions, the lag probe and its rule, routing, read-your-writes, status),
//!   driven by the binding's [`ReplicaBinding`](replicas::ReplicaBinding).
//!
//! Nothing here names a driver; `pool-core` still names no database.

pub mod config;
pub mod health;
pub mod host_tally;
pub mod hosts;
pub mod replicas;
pub mod slow_query;
pub mod sqlstate;

pub use config::{
    BackendKind, Config, DEFAULT_PORT, DEFAULT_SLOW_QUERY, DEFAULT_SSL_MODE,
    DEFAULT_STATEMENT_CACHE_SIZE, DriverKeys, Host, LoadBalanceHosts, MAX_HOSTS,
    POSTGRES_TLS_PARAMETERS, PostgresTls, Preset, Settings, SslMode, TargetSessionAttrs,
    UnknownPreset, parse_duration,
};
pub use pool_core::ConfigError;

/// PostgreSQL's connection check: one simple-protocol message whose answer is `false`
/// inside a transaction block (there `now()` is the transaction's start, not the
/// statement's), so a connection left in a `BEGIN` typed by hand is caught as well as a
/// dead one.
pub const POSTGRES_CHECK_QUERY: &str = "SELECT now() = statement_timestamp()";
