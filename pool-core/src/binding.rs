//! [`PooledConnection`]: which pool a `#[pooled]` function's connection comes from.
//!
//! `#[pooled]` turns `conn: &mut C` into a pool argument. The pool's type is not a
//! parameter of the generated function: it follows from `C`, through this trait. A pool
//! of another backend is then one ordinary type mismatch at the call, and an error type
//! that cannot carry a failed checkout is one error at the definition, because the
//! manager (and so its error type) is known there.
//!
//! Each binding owns the mapping for its connection types (pool-sqlx for sqlx's
//! connections, pool-postgres for tokio-postgres's client); this trait is the one for
//! managers of your own, used when the attributes expand for pool-core (`crate =
//! pool_core`, or a crate that depends on no binding).

use std::borrow::BorrowMut;

use crate::Manager;

/// A connection type a `#[pooled]` function can take (`conn: &mut Self`), naming the
/// manager whose pool the generated function takes in its place.
///
/// ```
/// use pool_core::{Classify, ErrorClass, Manager, PooledConnection};
///
/// pub struct KvConnection;
/// pub struct KvManager;
///
/// #[derive(Debug)]
/// pub struct KvError;
///
/// impl std::fmt::Display for KvError {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         f.write_str("the key-value store failed")
///     }
/// }
///
/// impl std::error::Error for KvError {}
///
/// impl Classify for KvError {
///     fn class(&self) -> ErrorClass {
///         ErrorClass::Connection
///     }
/// }
///
/// impl Manager for KvManager {
///     type Connection = KvConnection;
///     type Error = KvError;
///     async fn connect(&self) -> Result<KvConnection, KvError> {
///         Ok(KvConnection)
///     }
///     async fn check(&self, _: &mut KvConnection) -> Result<(), KvError> {
///         Ok(())
///     }
///     fn has_broken(&self, _: &mut KvConnection) -> bool {
///         false
///     }
/// }
///
/// // `#[pooled] async fn get(conn: &mut KvConnection, ..)` now takes `&Pool<KvManager>`.
/// impl PooledConnection for KvConnection {
///     type Manager = KvManager;
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "a `#[pooled]` function cannot take `&mut {Self}`: no pool hands it out",
    label = "no pool's connection",
    note = "for a manager of your own, implement `pool_core::PooledConnection` for its connection type (`type Manager = YourManager;`); with a database binding, take its connection type (pool-sqlx: `PgConnection`, `MySqlConnection`, `SqliteConnection`; pool-postgres: `pool_postgres::Client`)"
)]
pub trait PooledConnection {
    /// The manager whose connections these are: the generated function takes a
    /// `&Pool<Self::Manager>`.
    type Manager: Manager<Connection: BorrowMut<Self>>;
}
