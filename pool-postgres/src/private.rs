//! pool-postgres's side of the code `#[resilient]` and `#[pooled]` generate. Not public
//! API: no stability promised.
//!
//! The attributes name everything through `#krate::__private`; this module is pool-core's
//! (re-exported) with two things of pool-postgres's in place of pool-core's: the mapping
//! from a connection type to its pool, and the error route (`pool_core::__binding_route!`,
//! the one pool-sqlx expands too), through which a function's error type needs one
//! conversion, `From<pool_postgres::Error>`, for every door.

pub use pool_core::__private::*;

use crate::PostgresManager;

/// pool-postgres's mapping from a `#[pooled]` function's connection type to its pool:
/// the generated function takes a `&PostgresPool`.
#[diagnostic::on_unimplemented(
    message = "a `#[pooled]` function on pool-postgres cannot take `&mut {Self}`: no pool-postgres pool hands it out",
    label = "not a pool-postgres client",
    note = "take `&mut pool_postgres::Client` (or the driver's `&mut tokio_postgres::Client`); the generated function then takes `&PostgresPool`; for another binding's connection, name it with `crate = ..`"
)]
pub trait PooledConnection {
    /// The manager whose pool the generated function takes.
    type Manager: pool_core::Manager<Connection: std::borrow::BorrowMut<Self>>;
}

impl PooledConnection for crate::Client {
    type Manager = PostgresManager;
}

impl PooledConnection for tokio_postgres::Client {
    type Manager = PostgresManager;
}

pool_core::__binding_route! {
    error = crate::Error,
    backend = crate::PgError,
    carries = {
        message = "`{Self}` cannot be the error type of this function: it needs `From<pool_postgres::Error>` and `Classify`",
        label = "a failed checkout, a policy's rejection and the database's errors end in this type",
        note = "return `pool_postgres::Error`, or give your error a variant holding it (`#[from] pool_postgres::Error`) and implement `Classify` by delegating `class` and `delivery` to it (README: \"Your own error type\")"
    },
    from_pool = {
        message = "`{Self}` cannot be the error type of this `#[pooled]` function: it has no `From<pool_postgres::Error>`",
        label = "a failed checkout (pool closed, timed out, connection refused) ends in this error",
        note = "return `pool_postgres::Error`, or add a variant holding it (`#[from] pool_postgres::Error`)"
    },
}
