//! pool-sqlx's side of the code `#[resilient]` and `#[pooled]` generate. Not public API:
//! no stability promised.
//!
//! The attributes name everything through `#krate::__private`; this module is pool-core's
//! (re-exported) with two things of pool-sqlx's in place of pool-core's: the mapping from
//! a connection type to its pool, and the error route (`pool_core::__binding_route!`,
//! one copy for every binding), through which a function's error type needs one
//! conversion, `From<pool_sqlx::Error>`, for every door.

use crate::{Backend, SqlxConnection, SqlxManager};

pub use pool_core::__private::*;

/// pool-sqlx's mapping from a `#[pooled]` function's connection type to its pool: the
/// generated function takes `&PgPool` for `&mut PgConnection`, and so on.
#[diagnostic::on_unimplemented(
    message = "a `#[pooled]` function on pool-sqlx cannot take `&mut {Self}`: no pool-sqlx pool hands it out",
    label = "not a sqlx connection",
    note = "take `&mut PgConnection`, `&mut MySqlConnection` or `&mut SqliteConnection` (the generated function then takes `&PgPool`, `&MySqlPool` or `&SqlitePool`); for another binding's connection, name it with `crate = ..`"
)]
pub trait PooledConnection {
    /// The manager whose pool the generated function takes.
    type Manager: pool_core::Manager<Connection: std::borrow::BorrowMut<Self>>;
}

macro_rules! pooled_connection {
    ($($conn:ty => $db:ty),*) => {$(
        impl PooledConnection for $conn {
            type Manager = SqlxManager<$db>;
        }
    )*};
}

pooled_connection!(
    sqlx::PgConnection => sqlx::Postgres,
    sqlx::MySqlConnection => sqlx::MySql,
    sqlx::SqliteConnection => sqlx::Sqlite
);

impl<DB: Backend> PooledConnection for SqlxConnection<DB> {
    type Manager = SqlxManager<DB>;
}

pool_core::__binding_route! {
    error = crate::Error,
    backend = crate::SqlxError,
    carries = {
        message = "`{Self}` cannot be the error type of this function: it needs `From<pool_sqlx::Error>` and `Classify`",
        label = "a failed checkout, a policy's rejection and the database's errors end in this type",
        note = "return `pool_sqlx::Error`, or give your error a variant holding it (`#[from] pool_sqlx::Error`) and implement `Classify` by delegating `class` and `delivery` to it (README: \"Your own error type\")"
    },
    from_pool = {
        message = "`{Self}` cannot be the error type of this `#[pooled]` function: it has no `From<pool_sqlx::Error>`",
        label = "a failed checkout (pool closed, timed out, connection refused) ends in this error",
        note = "return `pool_sqlx::Error`, or add a variant holding it (`#[from] pool_sqlx::Error`)"
    },
}
