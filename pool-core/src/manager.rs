//! The `Manager` trait: how the pool makes, checks and closes connections.

use std::future::Future;

use crate::Classify;

/// Makes, validates and closes the connections of one pool.
///
/// The pool calls `connect` in a task of its own (a waiter that gives up does not
/// abort it), `check` only when a connection has been idle longer than the pool's
/// `validate_after`, and `has_broken` synchronously every time a connection comes back.
pub trait Manager: Send + Sync + 'static {
    /// The connection type handed out by the pool.
    type Connection: Send + 'static;
    /// The error `connect` and `check` fail with.
    type Error: Classify + std::error::Error + Send + Sync + 'static;

    /// Opens one new connection.
    fn connect(&self) -> impl Future<Output = Result<Self::Connection, Self::Error>> + Send;

    /// Validates an idle connection before it is handed out (typically a ping).
    fn check(
        &self,
        conn: &mut Self::Connection,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// The cheap synchronous test run when a connection is returned. `true` discards it.
    /// It must not do I/O: it runs inside `Drop`.
    fn has_broken(&self, conn: &mut Self::Connection) -> bool;

    /// Closes a connection the pool no longer wants (idle too long, too old, pool closed).
    /// The default just drops it; a manager can say goodbye to the server here.
    fn close(&self, conn: Self::Connection) -> impl Future<Output = ()> + Send {
        drop(conn);
        async {}
    }
}

/// A manager whose connections can run a transaction, used by `#[pooled(transaction)]`.
///
/// These take the raw connection so the body of a transactional function receives the
/// same `&mut Connection` as a non-transactional one.
pub trait TransactionManager: Manager {
    /// Starts a transaction on `conn`.
    fn begin(
        &self,
        conn: &mut Self::Connection,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
    /// Commits the transaction open on `conn`.
    fn commit(
        &self,
        conn: &mut Self::Connection,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
    /// Rolls back the transaction open on `conn`.
    fn rollback(
        &self,
        conn: &mut Self::Connection,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
}
